import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { runCli } from './helpers/cli.ts'
import { quicAddr, TestNetwork, waitFor } from './helpers/nodes.ts'

const net = new TestNetwork()
afterEach(async () => { await net.cleanup() })
const never = new AbortController().signal

const PATTERNS = [
  { name: 'sql_injection_prevention', content: 'Always use parameterized queries. Never concatenate user input into SQL.', namespace: 'security', confidence: 0.95 },
  { name: 'caching_strategy', content: 'Cache expensive reads with a TTL and invalidate on write.', namespace: 'performance', confidence: 0.9 },
  { name: 'retry_backoff', content: 'Retry failed network calls with exponential backoff and jitter.', namespace: 'reliability', confidence: 0.9 }
]

describe('ReasoningBank across nodes', () => {
  it('answers a paraphrased question on B with a pattern stored on A (semantic embedder)', async () => {
    const a = await net.start()
    const b = await net.start()
    await b.join(multiaddr(quicAddr(a)), never)
    for (const pattern of PATTERNS) await a.patterns.storePattern(pattern)
    await waitFor('patterns replicated to B', () => b.patterns.stats().indexed === PATTERNS.length)
    const matches = await b.patterns.query('How can I stop attackers from injecting into my database queries?', { limit: 3 })
    expect(matches[0]?.pattern.name).toBe('sql_injection_prevention')
    expect(b.patterns.stats().embedder.semantic).toBe(true)
  })

  it('forgets everywhere, and a restarted node answers the same from its saved or rebuilt index', async () => {
    const dataDir = await net.dataDir()
    const a = await net.start({ embedder: 'hash' }, dataDir)
    const b = await net.start({ embedder: 'hash' })
    await b.join(multiaddr(quicAddr(a)), never)
    for (const pattern of PATTERNS) await a.patterns.storePattern(pattern)
    await waitFor('patterns replicated to B', () => b.patterns.stats().indexed === PATTERNS.length)
    expect(await a.patterns.forget('caching_strategy')).toBe(true)
    await waitFor('forget replicated to B', () => b.patterns.stats().patterns === PATTERNS.length - 1)

    const question = 'retry network calls with backoff'
    const before = (await a.patterns.query(question, { limit: 2 })).map((match) => match.pattern.name)
    await a.stop()
    const restarted = await net.start({ embedder: 'hash' }, dataDir)
    const after = (await restarted.patterns.query(question, { limit: 2 })).map((match) => match.pattern.name)
    expect(after).toEqual(before)
    expect(after[0]).toBe('retry_backoff')
    expect(restarted.patterns.stats().embedder.semantic).toBe(false)
  })

  it('starts without waiting for an index rebuild, answering by exact search until the index is ready', async () => {
    const dataDir = await net.dataDir()
    const a = await net.start({ embedder: 'hash' }, dataDir)
    const words = ['cache', 'retry', 'queue', 'shard', 'index', 'token', 'schema', 'deploy', 'rollback', 'metric', 'trace', 'lock']
    const content = (i: number): string => `pattern ${i} about ${words[i % 12]} and ${words[Math.floor(i / 12) % 12]} with marker m${i}x`
    const count = 2400
    for (let i = 0; i < count; i++) await a.patterns.storePattern({ name: `p${i}`, content: content(i), namespace: `ns${i % 3}` })
    await a.stop()
    // A lost index (or one from another embedder) must be rebuilt from the store at the next start.
    await rm(join(dataDir, 'patterns-index', 'patterns-int8.hnsw.json'))

    const b = await net.start({ embedder: 'hash' }, dataDir)
    const settled = { value: false }
    void b.patterns.indexReady.then(() => { settled.value = true })
    expect(b.patterns.stats().index).toMatchObject({ state: 'building', search: 'exact', origin: { source: 'rebuilt', reason: 'no saved index' } })
    const meanwhile = await b.patterns.query(content(1234), { limit: 3 })
    expect(settled.value).toBe(false)
    expect(meanwhile[0]?.pattern.name).toBe('p1234')
    expect(meanwhile[0]?.similarity).toBeCloseTo(1, 5)

    const state = await b.patterns.indexReady
    expect(state).toEqual({ state: 'ready' })
    expect(b.patterns.stats()).toMatchObject({ indexed: count, index: { state: 'ready', search: 'hnsw' } })
    expect(b.patterns.stats().index.shards).toBeGreaterThanOrEqual(1)
    const after = await b.patterns.query(content(1234), { limit: 3 })
    expect(after[0]?.pattern.name).toBe('p1234')
    const stats = await runCli(['patterns', 'stats', '--api', b.apiAddress])
    expect(stats.stdout).toMatch(/^index: ready \(HNSW search, int8 graph, ef 80\)$/m)
  }, 60_000)
})
