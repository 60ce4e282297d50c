/**
 * Deterministic clustered unit vectors for search tests and benchmarks: cluster centres are random unit
 * vectors, and each point is a centre plus Gaussian noise of norm ≈ `spread`, normalised. In high
 * dimensions two points of one cluster then have cosine ≈ 1 / (1 + spread²) and points of different
 * clusters ≈ 0, roughly like topic clusters of sentence embeddings.
 */

/** mulberry32: tiny seeded PRNG with uniform output in [0, 1). */
export function seededRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal samples by the Box–Muller transform. */
export function seededGaussian (seed: number): () => number {
  const random = seededRandom(seed)
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
}

export interface ClusteredSpaceOptions {
  dimensions: number
  clusters: number
  spread: number
  seed: number
}

export class ClusteredSpace {
  readonly dimensions: number
  readonly #centres: Float32Array
  readonly #clusters: number
  readonly #spread: number

  constructor (options: ClusteredSpaceOptions) {
    this.dimensions = options.dimensions
    this.#clusters = options.clusters
    this.#spread = options.spread
    const gaussian = seededGaussian(options.seed)
    this.#centres = new Float32Array(options.clusters * options.dimensions)
    for (let c = 0; c < options.clusters; c++) randomUnitRow(this.#centres, c, options.dimensions, gaussian)
  }

  /** `count` points as a row-major matrix of unit rows; the same seed gives the same points. */
  sample (count: number, seed: number): Float32Array {
    const { dimensions } = this
    const random = seededRandom(seed)
    const gaussian = seededGaussian(seed ^ 0x5bd1e995)
    const noise = this.#spread / Math.sqrt(dimensions)
    const matrix = new Float32Array(count * dimensions)
    for (let row = 0; row < count; row++) {
      const centre = Math.floor(random() * this.#clusters) * dimensions
      let norm = 0
      for (let i = 0; i < dimensions; i++) {
        const value = this.#centres[centre + i] + noise * gaussian()
        matrix[row * dimensions + i] = value
        norm += value * value
      }
      const scale = 1 / Math.sqrt(norm)
      for (let i = 0; i < dimensions; i++) matrix[row * dimensions + i] *= scale
    }
    return matrix
  }
}

function randomUnitRow (matrix: Float32Array, row: number, dimensions: number, gaussian: () => number): void {
  let norm = 0
  for (let i = 0; i < dimensions; i++) {
    const value = gaussian()
    matrix[row * dimensions + i] = value
    norm += value * value
  }
  const scale = 1 / Math.sqrt(norm)
  for (let i = 0; i < dimensions; i++) matrix[row * dimensions + i] *= scale
}
