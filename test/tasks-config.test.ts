import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { defaults, resolveConfig } from '../node/config/config.ts'
import { tempDir } from './helpers/nodes.ts'

const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) })) })

async function dataDirWith (file: unknown): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir)
  await writeFile(join(dir, 'peerflow.json'), JSON.stringify(file))
  return dir
}

describe('agents config', () => {
  it('has defaults: 2 agents per node, 3 attempts, 1 s heartbeats, failover after 10 s', () => {
    expect(defaults('/data').agents).toEqual({
      maxConcurrent: 2, maxAttempts: 3, heartbeatMs: 1_000, workerTimeoutMs: 10_000, taskTimeoutMs: 600_000, patternsInContext: 3, retentionMs: 604_800_000, roles: {}
    })
  })

  it('merges field by field across peerflow.json, PEERFLOW_MAX_AGENTS and --max-agents', async () => {
    const dataDir = await dataDirWith({ agents: { heartbeatMs: 200, workerTimeoutMs: 2_000, baseUrl: 'http://127.0.0.1:8787' } })
    const fromFile = await resolveConfig({ flags: { dataDir }, env: {} })
    expect(fromFile.agents).toMatchObject({ heartbeatMs: 200, workerTimeoutMs: 2_000, baseUrl: 'http://127.0.0.1:8787', maxConcurrent: 2, maxAttempts: 3 })
    const fromEnv = await resolveConfig({ flags: { dataDir }, env: { PEERFLOW_MAX_AGENTS: '4' } })
    expect(fromEnv.agents).toMatchObject({ maxConcurrent: 4, heartbeatMs: 200 })
    const fromFlag = await resolveConfig({ flags: { dataDir, agents: { maxConcurrent: 6 } }, env: { PEERFLOW_MAX_AGENTS: '4' } })
    expect(fromFlag.agents).toMatchObject({ maxConcurrent: 6, heartbeatMs: 200 })
  })

  it('names what is wrong', async () => {
    const tooEager = await dataDirWith({ agents: { heartbeatMs: 1_000, workerTimeoutMs: 1_500 } })
    await expect(resolveConfig({ flags: { dataDir: tooEager }, env: {} })).rejects.toThrow('invalid config: agents: need workerTimeoutMs > 2 x heartbeatMs')
    const badUrl = await dataDirWith({ agents: { baseUrl: 'not a url' } })
    await expect(resolveConfig({ flags: { dataDir: badUrl }, env: {} })).rejects.toThrow('invalid config: agents.baseUrl: not a URL')
    const notObject = await dataDirWith({ agents: 3 })
    await expect(resolveConfig({ flags: { dataDir: notObject }, env: {} })).rejects.toThrow('invalid config: agents: expected an object')
    await expect(resolveConfig({ flags: { dataDir: notObject }, env: { PEERFLOW_MAX_AGENTS: 'many' } })).rejects.toThrow("PEERFLOW_MAX_AGENTS: expected an integer, got 'many'")
    const zero = await dataDirWith({})
    await expect(resolveConfig({ flags: { dataDir: zero }, env: { PEERFLOW_MAX_AGENTS: '0' } })).rejects.toThrow(/invalid config: agents\.maxConcurrent/)
  })
})
