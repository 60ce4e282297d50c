/** Small vector helpers shared by the embedders, exact search and consolidation. */

export function dot (a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i]
  return sum
}

/** Scales `vector` in place to unit length; a zero vector stays zero. */
export function normalizeInPlace (vector: Float32Array): Float32Array {
  const length = Math.sqrt(dot(vector, vector))
  if (length > 0) for (let i = 0; i < vector.length; i++) vector[i] /= length
  return vector
}

/** Cosine similarity, for vectors that need not be normalised. */
export function cosine (a: ArrayLike<number>, b: ArrayLike<number>): number {
  const denominator = Math.sqrt(dot(a, a) * dot(b, b))
  return denominator === 0 ? 0 : dot(a, b) / denominator
}
