import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { API_TOKEN_FILE } from '../api/api-token.ts'
import { IDENTITY_FILE } from '../config/identity.ts'
import { failed, passed, type CheckResult } from './check.ts'

/**
 * The node's private key, the API token and the network secret must be readable by their owner
 * alone: anyone else who reads them can impersonate the node, drive it, or join the network.
 */
export async function checkKeyFiles (dataDir: string, networkSecretFile: string | undefined, platform = process.platform): Promise<CheckResult> {
  const name = 'key file permissions'
  if (platform === 'win32') return passed(name, 'not checked on Windows (no POSIX permission bits)')
  const files = [join(dataDir, IDENTITY_FILE), join(dataDir, API_TOKEN_FILE), ...(networkSecretFile === undefined ? [] : [networkSecretFile])]
  const exposed: Array<{ path: string, mode: number }> = []
  const present: string[] = []
  for (const path of files) {
    try {
      const info = await stat(path)
      present.push(path)
      if ((info.mode & 0o077) !== 0) exposed.push({ path, mode: info.mode & 0o777 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      if (path === networkSecretFile) {
        return failed(name, `network secret ${path} does not exist`, "copy the network's secret file there (mode 600), or drop --network-secret-file for open mode")
      }
    }
  }
  if (exposed.length > 0) {
    return failed(name, exposed.map(({ path, mode }) => `${path} has mode ${mode.toString(8)}, readable by other users`).join('; '),
      `run: chmod 600 ${exposed.map(({ path }) => path).join(' ')}`)
  }
  if (present.length === 0) return passed(name, 'no key files yet (the identity is created, mode 600, on first start)')
  return passed(name, `${present.length} file${present.length === 1 ? '' : 's'} readable by the owner only`)
}
