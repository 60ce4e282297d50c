import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  createNetworkSecret, loadNetworkSecret, NETWORK_SECRET_BYTES, NetworkSecretError
} from '../node/admission/network-secret.ts'
import { tempDir } from './helpers/nodes.ts'

let dir: string
beforeEach(async () => { dir = await tempDir('peerflow-secret-') })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('network secret file', () => {
  it('is created with 32 random bytes, base64, mode 0600, and loads back', async () => {
    const path = join(dir, 'nested', 'network.secret')
    const created = await createNetworkSecret(path)
    expect(created.byteLength).toBe(NETWORK_SECRET_BYTES)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(Buffer.from((await readFile(path, 'utf8')).trim(), 'base64').equals(Buffer.from(created))).toBe(true)
    expect(await loadNetworkSecret(path)).toEqual(created)
    expect(await createNetworkSecret(join(dir, 'other.secret'))).not.toEqual(created)
  })

  it('is never overwritten', async () => {
    const path = join(dir, 'network.secret')
    const first = await createNetworkSecret(path)
    await expect(createNetworkSecret(path)).rejects.toThrow(/already exists: refusing to overwrite/)
    expect(await loadNetworkSecret(path)).toEqual(first)
  })

  it('is refused when group or others can read it, naming the path and the fix', async () => {
    const path = join(dir, 'network.secret')
    await createNetworkSecret(path)
    for (const mode of [0o640, 0o604, 0o644]) {
      await chmod(path, mode)
      const error = await loadNetworkSecret(path).catch((err: unknown) => err)
      expect(error).toBeInstanceOf(NetworkSecretError)
      expect((error as Error).message).toContain(path)
      expect((error as Error).message).toContain(`chmod 600 ${path}`)
    }
  })

  it('is refused when missing, not a file, not base64 or shorter than 16 bytes', async () => {
    const missing = join(dir, 'absent.secret')
    await expect(loadNetworkSecret(missing)).rejects.toThrow(new RegExp(`${missing}.*does not exist`))
    const directory = join(dir, 'a-directory')
    await mkdir(directory, { mode: 0o700 })
    await expect(loadNetworkSecret(directory)).rejects.toThrow(/is not a file/)
    const cases: Array<[string, RegExp]> = [
      ['not base64 at all!\n', /not base64/],
      ['', /not base64/],
      [`${Buffer.alloc(15, 7).toString('base64')}\n`, /15 bytes; at least 16/]
    ]
    for (const [content, expected] of cases) {
      const path = join(dir, 'bad.secret')
      await writeFile(path, content, { mode: 0o600 })
      await expect(loadNetworkSecret(path)).rejects.toThrow(expected)
      await rm(path)
    }
    const sixteen = join(dir, 'short-but-enough.secret')
    await writeFile(sixteen, Buffer.alloc(16, 1).toString('base64'), { mode: 0o600 })
    expect((await loadNetworkSecret(sixteen)).byteLength).toBe(16)
  })

})
