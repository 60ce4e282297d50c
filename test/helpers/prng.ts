/** A small deterministic random source for reproducible tests. */
export interface Prng {
  /** Uniform in [0, 1). */
  next (): number
  /** Uniform integer in [0, n). */
  int (n: number): number
  /** A uniformly chosen element of a non-empty array. */
  pick<T> (items: readonly T[]): T
}

/** mulberry32: 32-bit state, good spread, enough for simulations (not for cryptography). */
export function createPrng (seed: number): Prng {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return {
    next,
    int,
    pick<T> (items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('cannot pick from an empty array')
      return items[int(items.length)]
    }
  }
}
