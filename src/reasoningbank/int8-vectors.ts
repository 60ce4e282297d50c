import { TopK } from './top-k.ts'

export interface QuantizedMatch {
  /** Row number, in the order the vectors were added. */
  row: number
  /** Dot product of the query with the dequantized row: the cosine for unit rows. */
  similarity: number
}

/**
 * Vectors stored as int8 with one float32 scale per row (symmetric scalar quantization: each row's
 * largest magnitude maps to 127), 4 × smaller than float32 plus 4 bytes a row, searched by exact scan.
 * The error per component is at most half a step, max|x| / 254, which on unit 384-d rows moves a cosine
 * by far less than the gap between a cluster's members and the rest.
 */
export class Int8Vectors {
  readonly dimensions: number
  #codes: Int8Array
  #scales: Float32Array
  #rows = 0

  constructor (dimensions: number, initialCapacity = 64) {
    if (!Number.isInteger(dimensions) || dimensions < 1) throw new RangeError(`dimensions must be a positive integer, got ${dimensions}`)
    this.dimensions = dimensions
    const capacity = Math.max(1, initialCapacity)
    this.#codes = new Int8Array(capacity * dimensions)
    this.#scales = new Float32Array(capacity)
  }

  get size (): number {
    return this.#rows
  }

  /** Bytes a stored vector takes: one per component and its scale. */
  get bytesPerVector (): number {
    return this.dimensions + Float32Array.BYTES_PER_ELEMENT
  }

  /** Quantizes and appends `vector`; returns its row number. */
  add (vector: ArrayLike<number>): number {
    if (vector.length !== this.dimensions) throw new RangeError(`vector has ${vector.length} dimensions, the store ${this.dimensions}`)
    if (this.#rows === this.#scales.length) this.#grow()
    let largest = 0
    for (let i = 0; i < vector.length; i++) largest = Math.max(largest, Math.abs(vector[i]))
    const step = largest === 0 ? 1 : largest / 127
    const offset = this.#rows * this.dimensions
    for (let i = 0; i < vector.length; i++) this.#codes[offset + i] = Math.round(vector[i] / step)
    this.#scales[this.#rows] = step
    return this.#rows++
  }

  /** The stored (dequantized) vector of `row`. */
  vector (row: number): Float32Array {
    if (!Number.isInteger(row) || row < 0 || row >= this.#rows) throw new RangeError(`no row ${row}`)
    const step = this.#scales[row] as number
    const offset = row * this.dimensions
    return Float32Array.from(this.#codes.subarray(offset, offset + this.dimensions), (code) => code * step)
  }

  /** Exact top-k by dot product with `query` over the quantized rows `filter` accepts, best first. */
  search (query: ArrayLike<number>, k: number, filter?: (row: number) => boolean): QuantizedMatch[] {
    if (query.length !== this.dimensions) throw new RangeError(`query has ${query.length} dimensions, the store ${this.dimensions}`)
    const { dimensions } = this
    const q = Float32Array.from(query)
    const codes = this.#codes
    const top = new TopK(Math.max(0, Math.min(Math.floor(k), this.#rows)))
    const unrolled = dimensions - (dimensions % 4)
    for (let row = 0; row < this.#rows; row++) {
      if (filter !== undefined && !filter(row)) continue
      const offset = row * dimensions
      let s0 = 0
      let s1 = 0
      let s2 = 0
      let s3 = 0
      for (let i = 0; i < unrolled; i += 4) {
        s0 += codes[offset + i] * q[i]
        s1 += codes[offset + i + 1] * q[i + 1]
        s2 += codes[offset + i + 2] * q[i + 2]
        s3 += codes[offset + i + 3] * q[i + 3]
      }
      for (let i = unrolled; i < dimensions; i++) s0 += codes[offset + i] * q[i]
      const similarity = (s0 + s1 + s2 + s3) * (this.#scales[row] as number)
      if (similarity > top.threshold) top.push(row, similarity)
    }
    return top.sorted().map(({ id, score }) => ({ row: id, similarity: score }))
  }

  #grow (): void {
    const capacity = this.#scales.length * 2
    const codes = new Int8Array(capacity * this.dimensions)
    codes.set(this.#codes)
    const scales = new Float32Array(capacity)
    scales.set(this.#scales)
    this.#codes = codes
    this.#scales = scales
  }
}
