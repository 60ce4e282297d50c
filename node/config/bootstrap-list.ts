import { readFile } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { ConfigError } from './config.ts'

/**
 * Reads a bootstrap list: a JSON array of multiaddrs, each ending in /p2p/<PeerId> (the dialler
 * must know whom it expects, or a spoofed address could impersonate a bootstrap peer).
 */
export async function readBootstrapFile (path: string): Promise<string[]> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new ConfigError(path, `cannot read bootstrap list (${(err as Error).message})`)
  }
  if (!Array.isArray(parsed)) throw new ConfigError(path, 'expected a JSON array of multiaddrs')
  return validateBootstrap(parsed, path)
}

export function validateBootstrap (entries: unknown[], source = 'bootstrap'): string[] {
  return entries.map((entry, index) => {
    const field = `${source}[${index}]`
    if (typeof entry !== 'string') throw new ConfigError(field, 'expected a multiaddr string')
    let addr
    try {
      addr = multiaddr(entry)
    } catch {
      throw new ConfigError(field, `malformed multiaddr '${entry}'`)
    }
    if (addr.getComponents().find((component) => component.name === 'p2p') === undefined) {
      throw new ConfigError(field, `'${entry}' must end in /p2p/<PeerId>`)
    }
    return entry
  })
}
