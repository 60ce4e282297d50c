import { describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { PeerBackoff } from '../node/admission/admission.ts'
import { RateLimiter, type RateLimiterOptions } from '../node/admission/rate-limiter.ts'

/** A clock the test moves by hand. */
function manualClock (): { now: () => number, advance: (ms: number) => void } {
  let time = 1_000_000
  return { now: () => time, advance: (ms) => { time += ms } }
}

describe('RateLimiter', () => {
  function limiter (overrides: Partial<RateLimiterOptions> = {}): { limiter: RateLimiter, clock: ReturnType<typeof manualClock>, abused: string[] } {
    const clock = manualClock()
    const abused: string[] = []
    const created = new RateLimiter({
      ratePerSecond: 10, burst: 5, maxViolations: 3, violationWindowMs: 1_000, now: clock.now, onAbuse: (peer) => { abused.push(peer) }, ...overrides
    })
    return { limiter: created, clock, abused }
  }

  it('allows a burst, then the refill rate, per peer', () => {
    const { limiter: l, clock } = limiter()
    for (let i = 0; i < 5; i++) expect(l.take('a')).toBe(true)
    expect(l.take('a')).toBe(false)
    expect(l.take('b')).toBe(true)
    clock.advance(100)
    expect(l.take('a')).toBe(true)
    expect(l.take('a')).toBe(false)
    clock.advance(10_000)
    for (let i = 0; i < 5; i++) expect(l.take('a')).toBe(true)
    expect(l.take('a')).toBe(false)
  })

  it('charges the cost of expensive requests, and refuses one larger than the burst', () => {
    const { limiter: l } = limiter()
    expect(l.take('a', 4)).toBe(true)
    expect(l.take('a', 2)).toBe(false)
    expect(l.take('a', 1)).toBe(true)
    expect(l.take('b', 6)).toBe(false)
  })

  it('counts violations and reports abuse once per window', () => {
    const { limiter: l, clock, abused } = limiter()
    for (let i = 0; i < 5; i++) l.take('a')
    for (let i = 0; i < 3; i++) expect(l.take('a')).toBe(false)
    expect(l.violations('a')).toBe(3)
    expect(abused).toEqual([])
    l.take('a')
    l.take('a')
    expect(abused).toEqual(['a'])
    clock.advance(1_000)
    expect(l.violations('a')).toBe(0)
    // The refill after a second gave 5 tokens back; spend them, then violate again.
    for (let i = 0; i < 5; i++) expect(l.take('a')).toBe(true)
    for (let i = 0; i < 4; i++) l.take('a')
    expect(abused).toEqual(['a', 'a'])
  })

  it('keeps bounded memory: idle peers are forgotten, and the least recent when full', () => {
    const { limiter: l, clock } = limiter({ maxPeers: 100 })
    for (let i = 0; i < 1_000; i++) l.take(`peer-${i}`)
    expect(l.trackedPeers).toBe(100)
    clock.advance(1_000)
    l.take('newcomer')
    expect(l.trackedPeers).toBe(1)
    l.forget('newcomer')
    expect(l.trackedPeers).toBe(0)
  })

  it('refuses nonsense limits', () => {
    expect(() => new RateLimiter({ ratePerSecond: 0, burst: 1, maxViolations: 1, violationWindowMs: 1 })).toThrow(RangeError)
    expect(() => new RateLimiter({ ratePerSecond: 1, burst: 0, maxViolations: 1, violationWindowMs: 1 })).toThrow(RangeError)
  })
})

describe('PeerBackoff', () => {
  const peer = '12D3KooWGzBZ9RLMJGJ2VWDXe5y26AJ4kYbMuUwBy7zXkKcCE1bP'

  it('doubles the delay on every refusal up to the cap, and clears on success', () => {
    const clock = manualClock()
    const backoff = new PeerBackoff({ initialMs: 5_000, maxMs: 300_000, now: clock.now })
    const delays: number[] = []
    for (let i = 0; i < 9; i++) {
      delays.push(backoff.backOff(peer))
      expect(backoff.isBackedOff(peer)).toBe(true)
      clock.advance(delays[i] ?? 0)
      expect(backoff.isBackedOff(peer)).toBe(false)
    }
    expect(delays).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000])
    backoff.clear(peer)
    expect(backoff.backOff(peer)).toBe(5_000)
  })

  it('keeps the delay of a peer refused again while still backed off', () => {
    const clock = manualClock()
    const backoff = new PeerBackoff({ now: clock.now })
    expect(backoff.backOff(peer)).toBe(5_000)
    clock.advance(1_000)
    expect(backoff.backOff(peer)).toBe(5_000)
  })

  it('starts over after a quiet maximum delay, and forgets the oldest peers beyond its size', () => {
    const clock = manualClock()
    const backoff = new PeerBackoff({ initialMs: 1_000, maxMs: 10_000, maxPeers: 10, now: clock.now })
    backoff.backOff(peer)
    clock.advance(1_000)
    expect(backoff.backOff(peer)).toBe(2_000)
    clock.advance(2_000 + 10_000)
    expect(backoff.backOff(peer)).toBe(1_000)
    for (let i = 0; i < 20; i++) backoff.backOff(`other-${i}`)
    expect(backoff.isBackedOff(peer)).toBe(false)
    expect(backoff.isBackedOff('other-19')).toBe(true)
  })

  it('gates dials and connections of backed-off peers only', async () => {
    const backoff = new PeerBackoff()
    const gater = backoff.gater()
    const peerId = peerIdFromString(peer)
    expect(await gater.denyDialPeer?.(peerId)).toBe(false)
    backoff.backOff(peer)
    expect(await gater.denyDialPeer?.(peerId)).toBe(true)
    expect(gater.denyOutboundConnection).toBeDefined()
    expect(gater.denyInboundEncryptedConnection).toBeDefined()
  })
})
