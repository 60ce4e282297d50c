import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { InMemoryPatternStore } from '../src/reasoningbank/in-memory-pattern-store.ts'
import { ReasoningBank } from '../src/reasoningbank/reasoning-bank.ts'
import { UseEmbedder } from '../src/reasoningbank/use-embedder.ts'
import { dot } from '../src/reasoningbank/vector-math.ts'

describe('UseEmbedder with the real model', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerflow-rb-use-'))
    // The model ships inside the package: any network fetch would be a bug.
    vi.stubGlobal('fetch', () => { throw new Error('the USE embedder must not download anything') })
  })
  afterAll(async () => {
    vi.unstubAllGlobals()
    await rm(dir, { recursive: true, force: true })
  })

  it('returns unit 512-d vectors, and nothing for no texts', async () => {
    const embedder = new UseEmbedder()
    const [vector] = await embedder.embed(['hello world'])
    expect(vector).toHaveLength(512)
    expect(dot(vector, vector)).toBeCloseTo(1, 5)
    expect(await embedder.embed([])).toEqual([])
  })

  it('ranks the pattern that answers the question first', async () => {
    const bank = await ReasoningBank.open({ store: new InMemoryPatternStore(), embedder: new UseEmbedder(), indexDir: dir })
    await bank.storePattern({ name: 'sql', namespace: 'advice', content: 'Always use parameterized queries. Never concatenate user input into SQL.' })
    await bank.storePattern({ name: 'cache', namespace: 'advice', content: 'Cache expensive reads with a TTL and invalidate on write.' })
    await bank.storePattern({ name: 'retry', namespace: 'advice', content: 'Retry failed network calls with exponential backoff and jitter.' })
    const matches = await bank.query('How can I stop attackers from injecting into my database queries?', { explain: true })
    expect(matches[0]?.pattern.name).toBe('sql')
    const [best, ...rest] = matches
    for (const other of rest) expect(best?.similarity).toBeGreaterThan(other.similarity)
    expect(bank.stats().embedder).toEqual({ id: 'use-lite-512', dimensions: 512, semantic: true })
    await bank.close()
  })
})
