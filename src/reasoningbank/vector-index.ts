import type { IndexMatch, Loaded } from './labelled-hnsw-index.ts'

/**
 * 'hnsw-int8': one graph over int8 codes, built by every core at once (QuantizedHnswIndex, a native
 * addon of this project); 'hnsw-float32': hnswlib-node graphs over float32, one shard per core built in
 * worker threads (ShardedHnswIndex), used where the addon is not built.
 */
export type VectorIndexKind = 'hnsw-int8' | 'hnsw-float32'

/** What the ReasoningBank needs of its approximate index, whichever kind it is. */
export interface VectorIndex {
  readonly kind: VectorIndexKind
  readonly dimensions: number
  /** Id of the embedder whose vector space the index holds. */
  readonly embedder: string
  readonly shardCount: number
  /** Names indexed. */
  readonly size: number
  readonly capacity: number
  /** Candidate-list size of a search: recall against speed. */
  ef: number
  /** Adds or replaces the vector of `name`; false when the same vector is already indexed. */
  upsert: (name: string, vector: ArrayLike<number>, digest?: string) => boolean
  remove: (name: string) => boolean
  /** The k nearest names by cosine similarity, best first, among those `filter` accepts. */
  search: (query: ArrayLike<number>, k: number, filter?: (name: string) => boolean) => IndexMatch[]
  /** (name, vector digest) of every indexed name, the input to fingerprint(). */
  entries: () => IterableIterator<[string, string]>
  save: (dir: string) => Promise<void>
}

/** What loading a saved index found: a usable index with the fingerprint it was saved with, or why not. */
export type LoadedVectorIndex = Loaded<VectorIndex>
