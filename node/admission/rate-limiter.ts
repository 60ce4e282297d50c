export interface RateLimiterOptions {
  /** Tokens each peer regains per second. */
  ratePerSecond: number
  /** Most tokens a peer can hold: how much it may send at once after being quiet. */
  burst: number
  /** Refused `take`s a peer may accumulate within one window before `onAbuse` fires. */
  maxViolations: number
  violationWindowMs: number
  /** Called once per window, when a peer's violations first exceed `maxViolations`. */
  onAbuse?: (peerId: string) => void
  /** Peers tracked at most; the least recently seen are forgotten first. */
  maxPeers?: number
  now?: () => number
}

interface Bucket {
  tokens: number
  lastSeen: number
  violations: number
  windowStart: number
}

const DEFAULT_MAX_PEERS = 10_000

/**
 * Per-peer token buckets, for throttling what a peer may ask of this node, with a violation count
 * that escalates to `onAbuse` (e.g. disconnect) for a peer that keeps pushing past its limit.
 */
export class RateLimiter {
  readonly #options: RateLimiterOptions
  readonly #now: () => number
  readonly #maxPeers: number
  /** Beyond this idle time a bucket is full and its window over: forgetting it changes nothing. */
  readonly #forgettableAfterMs: number
  /** Insertion order is recency order: every `take` moves its peer to the end. */
  readonly #buckets = new Map<string, Bucket>()

  constructor (options: RateLimiterOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) throw new RangeError('ratePerSecond must be > 0 and burst >= 1')
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#maxPeers = options.maxPeers ?? DEFAULT_MAX_PEERS
    this.#forgettableAfterMs = Math.max(options.burst / options.ratePerSecond * 1000, options.violationWindowMs)
  }

  /** Spends `cost` tokens of `peerId`'s budget; false (and a violation) when it has too few. */
  take (peerId: string, cost = 1): boolean {
    const now = this.#now()
    const bucket = this.#touch(peerId, now)
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost
      return true
    }
    if (now - bucket.windowStart >= this.#options.violationWindowMs) {
      bucket.windowStart = now
      bucket.violations = 0
    }
    bucket.violations++
    if (bucket.violations === this.#options.maxViolations + 1) this.#options.onAbuse?.(peerId)
    return false
  }

  /** Violations of `peerId` in its current window. */
  violations (peerId: string): number {
    const bucket = this.#buckets.get(peerId)
    if (bucket === undefined || this.#now() - bucket.windowStart >= this.#options.violationWindowMs) return 0
    return bucket.violations
  }

  /** Drops a peer's state, e.g. when it disconnects. */
  forget (peerId: string): void {
    this.#buckets.delete(peerId)
  }

  get trackedPeers (): number {
    return this.#buckets.size
  }

  #touch (peerId: string, now: number): Bucket {
    const { ratePerSecond, burst } = this.#options
    let bucket = this.#buckets.get(peerId)
    if (bucket === undefined) {
      this.#evict(now)
      bucket = { tokens: burst, lastSeen: now, violations: 0, windowStart: -Infinity }
    } else {
      this.#buckets.delete(peerId)
      bucket.tokens = Math.min(burst, bucket.tokens + Math.max(0, now - bucket.lastSeen) / 1000 * ratePerSecond)
      bucket.lastSeen = now
    }
    this.#buckets.set(peerId, bucket)
    return bucket
  }

  /** Forgets idle peers from the least recent end, and the least recent one when still full. */
  #evict (now: number): void {
    for (const [peerId, bucket] of this.#buckets) {
      if (now - bucket.lastSeen < this.#forgettableAfterMs) break
      this.#buckets.delete(peerId)
    }
    if (this.#buckets.size >= this.#maxPeers) {
      const leastRecent = this.#buckets.keys().next()
      if (leastRecent.done !== true) this.#buckets.delete(leastRecent.value)
    }
  }
}
