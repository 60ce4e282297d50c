import { randomBytes } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Size of a freshly created secret. */
export const NETWORK_SECRET_BYTES = 32
/** Shorter secrets are refused: they could be guessed from a captured proof. */
export const MIN_NETWORK_SECRET_BYTES = 16

export class NetworkSecretError extends Error {
  override name = 'NetworkSecretError'
}

/**
 * Writes a new random network secret (base64, mode 0600) and returns it. Refuses to overwrite an
 * existing file: replacing a secret silently would cut this node off from its network.
 */
export async function createNetworkSecret (path: string): Promise<Uint8Array> {
  const secret = new Uint8Array(randomBytes(NETWORK_SECRET_BYTES))
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  try {
    await writeFile(path, `${Buffer.from(secret).toString('base64')}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new NetworkSecretError(`network secret ${path} already exists: refusing to overwrite it (delete it first to start a new network)`)
    }
    throw new NetworkSecretError(`cannot write network secret ${path}: ${(err as Error).message}`)
  }
  return secret
}

/**
 * Reads a network secret file. Refuses a file other local users can read (anyone holding the
 * secret joins the network) and a secret too short to resist guessing.
 */
export async function loadNetworkSecret (path: string): Promise<Uint8Array> {
  let text: string
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new NetworkSecretError(`network secret ${path} is not a file`)
    // Windows has no POSIX permission bits to check.
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      throw new NetworkSecretError(`network secret ${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}): run chmod 600 ${path}`)
    }
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (err instanceof NetworkSecretError) throw err
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new NetworkSecretError(`network secret ${path} does not exist: copy the network's secret file there (mode 600)`)
    throw new NetworkSecretError(`cannot read network secret ${path}: ${(err as Error).message}`)
  }
  const encoded = text.trim()
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw new NetworkSecretError(`network secret ${path} is not base64`)
  }
  const secret = new Uint8Array(Buffer.from(encoded, 'base64'))
  if (secret.byteLength < MIN_NETWORK_SECRET_BYTES) {
    throw new NetworkSecretError(`network secret ${path} holds ${secret.byteLength} bytes; at least ${MIN_NETWORK_SECRET_BYTES} are required (new secrets have ${NETWORK_SECRET_BYTES})`)
  }
  return secret
}
