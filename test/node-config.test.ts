import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, resolveConfig } from '../node/config/config.ts'
import { validateBootstrap } from '../node/config/bootstrap-list.ts'
import { tempDir } from './helpers/nodes.ts'

const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) })) })

async function dataDirWith (file: unknown): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir)
  await writeFile(join(dir, 'peerflow.json'), JSON.stringify(file))
  return dir
}

describe('config', () => {
  it('layers flags > env > peerflow.json > defaults', async () => {
    const dataDir = await dataDirWith({ maxConnections: 7, mdns: true, api: '127.0.0.1:8001' })
    const fileOnly = await resolveConfig({ flags: { dataDir }, env: {} })
    expect(fileOnly).toMatchObject({ maxConnections: 7, mdns: true, api: '127.0.0.1:8001', quic: true, logLevel: 'info' })

    const withEnv = await resolveConfig({ flags: { dataDir }, env: { PEERFLOW_API: '127.0.0.1:8002', PEERFLOW_MDNS: 'false' } })
    expect(withEnv).toMatchObject({ maxConnections: 7, mdns: false, api: '127.0.0.1:8002' })

    const withFlags = await resolveConfig({ flags: { dataDir, api: '127.0.0.1:8003' }, env: { PEERFLOW_API: '127.0.0.1:8002' } })
    expect(withFlags.api).toBe('127.0.0.1:8003')
  })

  it('takes the data dir from --data, then PEERFLOW_DATA', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    expect((await resolveConfig({ flags: {}, env: { PEERFLOW_DATA: dir } })).dataDir).toBe(dir)
  })

  it('names the invalid field', async () => {
    const dataDir = await dataDirWith({ listen: ['/ip4/127.0.0.1/udp/x'] })
    await expect(resolveConfig({ flags: { dataDir }, env: {} })).rejects.toThrow(/invalid config: listen\.0: malformed multiaddr/)
    await expect(resolveConfig({ flags: { dataDir: dirs[0] as string }, env: { PEERFLOW_MDNS: 'perhaps' } })).rejects.toThrow(ConfigError)
    const unknown = await dataDirWith({ colour: 'blue' })
    await expect(resolveConfig({ flags: { dataDir: unknown }, env: {} })).rejects.toThrow(/invalid config: .*colour/)
  })

  it('requires /p2p/<PeerId> on bootstrap addresses', () => {
    expect(() => validateBootstrap(['/ip4/127.0.0.1/udp/4433/quic-v1'])).toThrow(/must end in \/p2p\/<PeerId>/)
    expect(() => validateBootstrap(['nonsense'])).toThrow(/malformed multiaddr/)
    expect(validateBootstrap([])).toEqual([])
  })
})
