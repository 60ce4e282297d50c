import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { HashEmbedder } from '../src/reasoningbank/hash-embedder.ts'
import { InMemoryPatternStore } from '../src/reasoningbank/in-memory-pattern-store.ts'
import type { Pattern } from '../src/reasoningbank/pattern.ts'
import { ReasoningBank } from '../src/reasoningbank/reasoning-bank.ts'

const DAY = 86_400_000
const NOW = Date.UTC(2026, 0, 1)
const embedder = new HashEmbedder()

const dirs: string[] = []
const banks: ReasoningBank[] = []
afterEach(async () => {
  await Promise.all(banks.splice(0).map(async (bank) => { await bank.close() }))
  await Promise.all(dirs.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
})

async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'peerflow-rb-bank-'))
  dirs.push(dir)
  return dir
}

async function openBank (store = new InMemoryPatternStore(), indexDir?: string, now = NOW): Promise<{ bank: ReasoningBank, store: InMemoryPatternStore, dir: string }> {
  const dir = indexDir ?? await tempDir()
  const bank = await ReasoningBank.open({ store, embedder, indexDir: dir, now: () => now })
  banks.push(bank)
  return { bank, store, dir }
}

/** A pattern as a peer would write it straight into replicated memory. */
async function peerPattern (name: string, content: string, overrides: Partial<Pattern> = {}): Promise<Pattern> {
  const [vector] = await embedder.embed([content])
  return {
    name, content, namespace: 'peer', confidence: 0.5, uses: 0, successes: 0, failures: 0,
    createdAt: NOW, lastUsedAt: NOW, embedding: Array.from(vector as Float32Array), embedder: embedder.id, metadata: {}, ...overrides
  }
}

const SEED = [
  { name: 'sql', content: 'use parameterized sql queries to stop sql injection', namespace: 'security' },
  { name: 'xss', content: 'escape html output to stop cross site scripting', namespace: 'security' },
  { name: 'cache', content: 'cache expensive database reads with a ttl', namespace: 'performance' },
  { name: 'retry', content: 'retry failed network calls with exponential backoff', namespace: 'reliability' }
]

async function seed (bank: ReasoningBank): Promise<void> {
  for (const input of SEED) await bank.storePattern(input)
}

describe('ReasoningBank queries', () => {
  it('stores patterns with cached embeddings and finds the closest first', async () => {
    const { bank, store } = await openBank()
    await seed(bank)
    expect(store.get('sql')?.embedding).toHaveLength(embedder.dimensions)
    expect(store.get('sql')?.embedder).toBe('hash-384')
    const matches = await bank.query('how to prevent sql injection', { limit: 2, explain: true })
    expect(matches[0]?.pattern.name).toBe('sql')
    expect(matches[0]?.pattern).not.toHaveProperty('embedding')
    const parts = matches[0]?.explain
    expect(parts?.weighted.similarity).toBeCloseTo(0.7 * (parts?.similarity ?? 0))
    expect(parts?.score).toBeCloseTo(matches[0]?.score ?? 0)
    expect(matches).toHaveLength(2)
  })

  it('filters by namespace and minimum confidence', async () => {
    const { bank } = await openBank()
    await seed(bank)
    await bank.storePattern({ name: 'sql-old', content: 'build sql strings by concatenation', namespace: 'security', confidence: 0.1 })
    const security = await bank.query('sql', { namespace: 'security', limit: 10 })
    expect(security.map((match) => match.pattern.namespace)).toEqual(security.map(() => 'security'))
    expect(security.map((match) => match.pattern.name)).toContain('sql-old')
    const confident = await bank.query('sql', { namespace: 'security', minConfidence: 0.3, limit: 10 })
    expect(confident.map((match) => match.pattern.name)).not.toContain('sql-old')
  })

  it('ranks an equally similar but more confident, more recent pattern higher', async () => {
    const { bank, store } = await openBank()
    await store.put(await peerPattern('a', 'rotate api keys every month', { confidence: 0.2, lastUsedAt: NOW - 200 * DAY }))
    await store.put(await peerPattern('b', 'rotate api keys every month', { confidence: 0.9 }))
    expect((await bank.query('rotate api keys')).map((match) => match.pattern.name)).toEqual(['b', 'a'])
  })

  it('counts retrievals locally without writing the store', async () => {
    const { bank, store } = await openBank()
    await seed(bank)
    let writes = 0
    store.onChange(() => { writes++ })
    await bank.query('sql injection', { limit: 1 })
    await bank.query('sql injection', { limit: 1 })
    expect(writes).toBe(0)
    expect(store.get('sql')?.uses).toBe(0)
    expect(bank.stats().mostRetrieved[0]).toEqual({ name: 'sql', retrievals: 2 })
  })

  it('learns from outcomes', async () => {
    const { bank, store } = await openBank()
    await seed(bank)
    const [after] = await bank.recordOutcome(['sql', 'sql'], true)
    expect(after).toMatchObject({ name: 'sql', uses: 1, successes: 1, failures: 0 })
    expect(after?.confidence).toBeCloseTo(2 / 3)
    await bank.recordOutcome(['sql'], false)
    expect(store.get('sql')).toMatchObject({ uses: 2, successes: 1, failures: 1, confidence: 0.5 })
  })

  it('keeps counters when a stored pattern is updated', async () => {
    const { bank } = await openBank()
    await seed(bank)
    await bank.recordOutcome(['cache'], true)
    const updated = await bank.storePattern({ name: 'cache', content: 'cache reads in redis with a short ttl', namespace: 'performance' })
    expect(updated).toMatchObject({ uses: 1, successes: 1, createdAt: NOW })
    expect((await bank.query('redis', { limit: 1 }))[0]?.pattern.name).toBe('cache')
  })
})

describe('ReasoningBank errors', () => {
  it('rejects bad input with clear errors', async () => {
    const { bank } = await openBank()
    await seed(bank)
    await expect(bank.query('   ')).rejects.toMatchObject({ code: 'EMPTY_QUERY' })
    await expect(bank.query('sql', { namespace: 'nope' })).rejects.toThrow("unknown namespace 'nope'; known namespaces: performance, reliability, security")
    await expect(bank.query('sql', { limit: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(bank.query('sql', { minConfidence: 2 })).rejects.toThrow(/minConfidence must be a number from 0 to 1/)
    await expect(bank.storePattern({ name: '', content: 'x', namespace: 'n' })).rejects.toThrow(/name must be a non-empty string/)
    await expect(bank.storePattern({ name: 'n', content: 'x', namespace: 'n', confidence: 1.5 })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(bank.recordOutcome(['sql', 'ghost'], true)).rejects.toThrow("no pattern named 'ghost'")
    await expect(bank.recordOutcome([], true)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect(() => bank.list({ namespace: 'nope' })).toThrow(/known namespaces/)
    await expect(bank.consolidate({ threshold: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })

  it('reports an embedder that returns vectors of the wrong size', async () => {
    const store = new InMemoryPatternStore()
    const dir = await tempDir()
    const broken = { id: 'hash-384', dimensions: 384, semantic: false, embed: async (texts: string[]) => texts.map(() => new Float32Array(100)) }
    const bank = await ReasoningBank.open({ store, embedder: broken, indexDir: dir })
    banks.push(bank)
    await expect(bank.query('anything')).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH', message: expect.stringMatching(/100-dimensional vector, the index holds 384/) })
  })

  it('names the known namespaces even when there are none', async () => {
    const { bank } = await openBank()
    await expect(bank.query('x', { namespace: 'a' })).rejects.toThrow('(none, the bank is empty)')
    expect(await bank.query('x')).toEqual([])
  })

  it('refuses use after close', async () => {
    const { bank } = await openBank()
    await bank.close()
    await expect(bank.query('x')).rejects.toMatchObject({ code: 'CLOSED' })
  })
})

describe('ReasoningBank index lifecycle', () => {
  it('loads the saved index after a restart and answers the same', async () => {
    const store = new InMemoryPatternStore()
    const first = await openBank(store)
    await seed(first.bank)
    const before = await first.bank.query('database reads', { limit: 4 })
    await first.bank.close()

    const second = await openBank(store, first.dir)
    expect(second.bank.indexOrigin).toEqual({ source: 'loaded' })
    expect(await second.bank.query('database reads', { limit: 4 })).toEqual(before)
    // Retrieval counts survive the restart: each of the 4 patterns was returned once before and once after.
    expect(second.bank.stats().totals.retrievals).toBe(8)
  })

  it('rebuilds a stale or missing index, reporting progress', async () => {
    const store = new InMemoryPatternStore()
    const first = await openBank(store)
    await seed(first.bank)
    await first.bank.close()
    await store.put(await peerPattern('while-offline', 'written by a peer while this node was down'))

    const progress: Array<{ done: number, total: number }> = []
    const stale = await ReasoningBank.open({ store, embedder, indexDir: first.dir, onProgress: (p) => progress.push(p) })
    banks.push(stale)
    expect(stale.indexOrigin).toEqual({ source: 'rebuilt', reason: 'index is stale: the store changed since it was saved' })
    expect(progress.at(-1)).toEqual({ done: 5, total: 5 })
    expect((await stale.query('peer node down', { limit: 1 }))[0]?.pattern.name).toBe('while-offline')

    const missing = await openBank(store)
    expect(missing.bank.indexOrigin).toEqual({ source: 'rebuilt', reason: 'no saved index' })
    expect(missing.bank.stats().indexed).toBe(5)
    // A small index is built here, in one shard: more would only add searches per query.
    expect(await missing.bank.indexReady).toEqual({ state: 'ready' })
    expect(missing.bank.stats().index).toMatchObject({ state: 'ready', search: 'hnsw', shards: 1 })
  })

  // int8: one graph built by native threads; float32: hnswlib-node shards built in worker threads.
  it.each([
    { vectorIndex: 'int8' as const, kind: 'hnsw-int8', shards: 1 },
    { vectorIndex: 'float32' as const, kind: 'hnsw-float32', shards: 2 }
  ])('answers by exact scan while a large $vectorIndex index builds on every core, then applies the changes made meanwhile', async ({ vectorIndex, kind, shards }) => {
    const store = new InMemoryPatternStore()
    const count = 2500
    for (let i = 0; i < count; i++) await store.put(await peerPattern(`p${i}`, `topic ${i % 50} item ${i} marker q${i}z`))
    const progress: Array<{ done: number, total: number }> = []
    const bank = await ReasoningBank.open({ store, embedder, indexDir: await tempDir(), onProgress: (p) => progress.push(p), shards: 2, vectorIndex })
    banks.push(bank)
    expect(bank.stats().index).toMatchObject({ state: 'building', search: 'exact', shards: 0, kind })
    expect(bank.stats().indexed).toBe(count)
    expect((await bank.query('topic 7 item 7 marker q7z', { limit: 1 }))[0]?.pattern.name).toBe('p7')

    // Changes while the workers build: an addition, an update and a deletion.
    await store.put(await peerPattern('late', 'written while the index was building'))
    await store.put(await peerPattern('p8', 'rewritten while the index was building'))
    await store.delete('p9')
    expect((await bank.query('written while the index was building', { limit: 1 }))[0]?.pattern.name).toBe('late')

    expect(await bank.indexReady).toEqual({ state: 'ready' })
    expect(bank.stats()).toMatchObject({ indexed: count, index: { state: 'ready', search: 'hnsw', shards, kind } })
    expect(progress.at(-1)).toEqual({ done: count, total: count })
    expect((await bank.query('written while the index was building', { limit: 1 }))[0]?.pattern.name).toBe('late')
    expect((await bank.query('rewritten while the index was building', { limit: 1 }))[0]?.pattern.name).toBe('p8')
    expect((await bank.query('topic 9 item 9 marker q9z', { limit: 5 })).map((match) => match.pattern.name)).not.toContain('p9')
    expect((await bank.query('topic 7 item 7 marker q7z', { limit: 1 }))[0]?.pattern.name).toBe('p7')
  }, 60_000)

  it('can scan an int8 copy of the vectors while the index builds, reading changed patterns from the store', async () => {
    const store = new InMemoryPatternStore()
    for (let i = 0; i < 2500; i++) await store.put(await peerPattern(`p${i}`, `topic ${i % 50} item ${i} marker q${i}z`))
    const bank = await ReasoningBank.open({ store, embedder, indexDir: await tempDir(), shards: 2, exactScanVectors: 'int8' })
    banks.push(bank)
    expect(bank.stats().index).toMatchObject({ state: 'building', search: 'exact-int8' })
    const found = await bank.query('topic 7 item 7 marker q7z', { limit: 1 })
    expect(found[0]?.pattern.name).toBe('p7')
    expect(found[0]?.similarity).toBeCloseTo(1, 2)
    await store.put(await peerPattern('p8', 'rewritten while the index was building'))
    await store.delete('p9')
    expect((await bank.query('rewritten while the index was building', { limit: 1 }))[0]?.pattern.name).toBe('p8')
    expect((await bank.query('topic 9 item 9 marker q9z', { limit: 5 })).map((match) => match.pattern.name)).not.toContain('p9')
    expect((await bank.query('topic 8 item 8 marker q8z', { limit: 5, namespace: 'peer' })).map((match) => match.pattern.name)).not.toContain('p8')
    expect(await bank.indexReady).toEqual({ state: 'ready' })
    expect(bank.stats().index).toMatchObject({ state: 'ready', search: 'hnsw' })
  }, 60_000)

  it('stops a build when closed before it finished, saving no index', async () => {
    const store = new InMemoryPatternStore()
    for (let i = 0; i < 2500; i++) await store.put(await peerPattern(`p${i}`, `topic ${i % 50} item ${i}`))
    const dir = await tempDir()
    const bank = await ReasoningBank.open({ store, embedder, indexDir: dir, shards: 2 })
    await bank.close()
    expect(await bank.indexReady).toMatchObject({ state: 'failed', reason: expect.stringMatching(/closed while its index was building/) })
    const reopened = await openBank(store, dir)
    expect(reopened.bank.indexOrigin).toEqual({ source: 'rebuilt', reason: 'no saved index' })
  }, 60_000)

  it('rebuilds when the saved index comes from another embedder', async () => {
    const store = new InMemoryPatternStore()
    const first = await openBank(store)
    await first.bank.close()
    const other = new HashEmbedder({ dimensions: 64 })
    const bank = await ReasoningBank.open({ store, embedder: other, indexDir: first.dir })
    banks.push(bank)
    expect(bank.indexOrigin).toEqual({ source: 'rebuilt', reason: 'index built by embedder hash-384, bank uses hash-64' })
  })

  it('follows store changes from peers: add, update, delete', async () => {
    const { bank, store } = await openBank()
    await seed(bank)
    await store.put(await peerPattern('gossip', 'gossip protocols spread membership changes'))
    expect((await bank.query('gossip membership', { limit: 1 }))[0]?.pattern.name).toBe('gossip')

    await store.put(await peerPattern('gossip', 'vector clocks order concurrent updates'))
    expect((await bank.query('vector clocks', { limit: 1 }))[0]?.pattern.name).toBe('gossip')
    expect((await bank.query('gossip membership', { limit: 5 })).map((match) => match.pattern.name)).toContain('gossip')
    expect(bank.stats().indexed).toBe(5)

    await store.delete('gossip')
    expect((await bank.query('vector clocks', { limit: 5 })).map((match) => match.pattern.name)).not.toContain('gossip')
    expect(bank.stats().indexed).toBe(4)
  })

  it('leaves patterns from another embedder unindexed until re-embedded', async () => {
    const { bank, store } = await openBank()
    await store.put({ ...(await peerPattern('foreign', 'a pattern embedded elsewhere')), embedder: 'use-lite-512', embedding: new Array(512).fill(0) })
    expect(bank.stats()).toMatchObject({ patterns: 1, indexed: 0, unindexed: 1 })
    expect(await bank.reembed()).toBe(1)
    expect(bank.stats()).toMatchObject({ indexed: 1, unindexed: 0 })
    expect((await bank.query('embedded elsewhere'))[0]?.pattern.name).toBe('foreign')
  })
})

describe('ReasoningBank listing, stats, forget and consolidation', () => {
  it('lists by confidence, uses or recency', async () => {
    const { bank, store } = await openBank()
    await store.put(await peerPattern('a', 'alpha', { confidence: 0.9, uses: 1, lastUsedAt: NOW - 3 * DAY }))
    await store.put(await peerPattern('b', 'beta', { confidence: 0.5, uses: 7, lastUsedAt: NOW - 2 * DAY }))
    await store.put(await peerPattern('c', 'gamma', { confidence: 0.1, uses: 3, lastUsedAt: NOW - DAY, namespace: 'other' }))
    const names = (sort: 'confidence' | 'uses' | 'recent'): string[] => bank.list({ sort }).map((p) => p.name)
    expect(names('confidence')).toEqual(['a', 'b', 'c'])
    expect(names('uses')).toEqual(['b', 'c', 'a'])
    expect(names('recent')).toEqual(['c', 'b', 'a'])
    expect(bank.list({ namespace: 'other' }).map((p) => p.name)).toEqual(['c'])
    expect(bank.list({ limit: 1 })).toHaveLength(1)
  })

  it('summarises the bank', async () => {
    const { bank } = await openBank()
    await seed(bank)
    await bank.recordOutcome(['sql'], true)
    await bank.query('sql', { limit: 1 })
    const stats = bank.stats()
    expect(stats).toMatchObject({
      patterns: 4,
      indexed: 4,
      unindexed: 0,
      totals: { uses: 1, successes: 1, failures: 0, retrievals: 1 },
      embedder: { id: 'hash-384', dimensions: 384, semantic: false }
    })
    expect(stats.namespaces).toEqual([
      { namespace: 'performance', patterns: 1, meanConfidence: 0.5 },
      { namespace: 'reliability', patterns: 1, meanConfidence: 0.5 },
      { namespace: 'security', patterns: 2, meanConfidence: (0.5 + 2 / 3) / 2 }
    ])
    expect(stats.confidenceHistogram).toHaveLength(10)
    expect(stats.confidenceHistogram[5]).toBe(3)
    expect(stats.confidenceHistogram[6]).toBe(1)
  })

  it('forgets a pattern', async () => {
    const { bank } = await openBank()
    await seed(bank)
    expect(await bank.forget('xss')).toBe(true)
    expect(await bank.forget('xss')).toBe(false)
    expect((await bank.query('cross site scripting', { limit: 10 })).map((match) => match.pattern.name)).not.toContain('xss')
  })

  it('merges near-duplicates and prunes stale weak patterns; a dry run changes nothing', async () => {
    const { bank, store } = await openBank()
    await store.put(await peerPattern('dup-strong', 'always validate request bodies against a schema', { confidence: 0.8, uses: 4, successes: 3, failures: 1, metadata: { source: 'a' } }))
    await store.put(await peerPattern('dup-weak', 'always validate request bodies against a schema!', { confidence: 0.4, uses: 2, successes: 1, failures: 1, metadata: { source: 'b', ticket: 7 } }))
    await store.put(await peerPattern('stale', 'use tabs not spaces', { confidence: 0.2, lastUsedAt: NOW - 120 * DAY }))
    await store.put(await peerPattern('keep', 'prefer composition over inheritance', { confidence: 0.2 }))
    const before = structuredClone(store.all())

    const plan = await bank.consolidate({ dryRun: true })
    expect(plan.applied).toBe(false)
    expect(plan.merges).toEqual([{ keep: 'dup-strong', absorb: [{ name: 'dup-weak', similarity: expect.any(Number) }] }])
    expect(plan.prunes.map((prune) => prune.name)).toEqual(['stale'])
    expect(store.all()).toEqual(before)

    const applied = await bank.consolidate()
    expect(applied.applied).toBe(true)
    expect(store.all().map((p) => p.name).sort()).toEqual(['dup-strong', 'keep'])
    expect(store.get('dup-strong')).toMatchObject({ confidence: 0.8, uses: 6, successes: 4, failures: 2, metadata: { source: 'a', ticket: 7, mergedFrom: ['dup-weak'] } })
    expect(bank.stats().indexed).toBe(2)
  })
})
