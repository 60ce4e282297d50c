import type { IndexMatch } from './hnsw-index.ts'
import type { NamedVector } from './hnsw-shard-build.ts'
import { TopK } from './top-k.ts'
import { dot } from './vector-math.ts'

export interface ExactMatch {
  /** Row number in the matrix. */
  row: number
  similarity: number
}

/**
 * Brute-force top-k by cosine similarity over a row-major matrix of `dimensions`-wide rows. Rows and query
 * must be L2-normalised, so that the dot product is the cosine. The exact baseline for the HNSW index.
 */
export function exactSearch (matrix: Float32Array, dimensions: number, query: ArrayLike<number>, k: number, filter?: (row: number) => boolean): ExactMatch[] {
  if (query.length !== dimensions) throw new RangeError(`query has ${query.length} dimensions, the matrix ${dimensions}`)
  if (matrix.length % dimensions !== 0) throw new RangeError(`matrix length ${matrix.length} is not a multiple of ${dimensions}`)
  const rows = matrix.length / dimensions
  const top = new TopK(Math.min(k, rows))
  const q = Float32Array.from(query)
  const unrolled = dimensions - (dimensions % 4)
  for (let row = 0; row < rows; row++) {
    if (filter !== undefined && !filter(row)) continue
    const offset = row * dimensions
    // Four independent sums let the CPU overlap the multiply-adds: the baseline should not be naive.
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    for (let i = 0; i < unrolled; i += 4) {
      s0 += matrix[offset + i] * q[i]
      s1 += matrix[offset + i + 1] * q[i + 1]
      s2 += matrix[offset + i + 2] * q[i + 2]
      s3 += matrix[offset + i + 3] * q[i + 3]
    }
    for (let i = unrolled; i < dimensions; i++) s0 += matrix[offset + i] * q[i]
    const similarity = s0 + s1 + s2 + s3
    if (similarity > top.threshold) top.push(row, similarity)
  }
  return top.sorted().map(({ id, score }) => ({ row: id, similarity: score }))
}

/**
 * Brute-force top-k by cosine similarity over named vectors, which need not be normalised: what the
 * ReasoningBank answers with while its HNSW index is not built yet.
 */
export function exactSearchNamed (entries: readonly NamedVector[], query: ArrayLike<number>, k: number): IndexMatch[] {
  const top = new TopK(Math.max(0, Math.min(Math.floor(k), entries.length)))
  const queryNorm = Math.sqrt(dot(query, query))
  entries.forEach(({ vector }, i) => {
    const norms = queryNorm * Math.sqrt(dot(vector, vector))
    const similarity = norms === 0 ? 0 : dot(vector, query) / norms
    if (similarity > top.threshold) top.push(i, similarity)
  })
  return top.sorted().map(({ id, score }) => ({ name: (entries[id] as NamedVector).name, similarity: score }))
}
