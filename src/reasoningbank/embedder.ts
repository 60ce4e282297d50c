/** Turns texts into vectors for similarity search. */
export interface Embedder {
  /** Names the vector space: vectors from embedders with different ids are not comparable. */
  readonly id: string
  readonly dimensions: number
  /** True when similar meaning gives similar vectors; false for lexical (shared words) similarity. */
  readonly semantic: boolean
  /** One L2-normalised vector per text, in order. */
  embed(texts: string[]): Promise<Float32Array[]>
}
