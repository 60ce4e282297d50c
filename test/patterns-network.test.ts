import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
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
})
