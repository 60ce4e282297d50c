import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'

export const API_TOKEN_FILE = 'api.token'

/**
 * Loopback needs no token: only local users reach it. Anything else does, including a host name
 * that merely starts with "127." (it resolves wherever its owner wants).
 */
export function isLoopbackHost (host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))
}

/** The bearer token for a control API bound beyond loopback: generated once, stored 0600. */
export async function loadOrCreateApiToken (dataDir: string): Promise<string> {
  const path = join(dataDir, API_TOKEN_FILE)
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const token = randomBytes(32).toString('base64url')
  await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' })
  return token
}

export function tokenMatches (expected: string, header: string | undefined): boolean {
  const given = /^Bearer (\S+)$/.exec(header ?? '')?.[1]
  if (given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.byteLength === b.byteLength && timingSafeEqual(a, b)
}
