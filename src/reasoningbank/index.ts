export type { Pattern, PatternInfo } from './pattern.ts'
export { withoutEmbedding } from './pattern.ts'
export type { PatternStore } from './pattern-store.ts'
export { InMemoryPatternStore } from './in-memory-pattern-store.ts'
export type { Embedder } from './embedder.ts'
export { HashEmbedder, type HashEmbedderOptions } from './hash-embedder.ts'
export { UseEmbedder } from './use-embedder.ts'
export { createEmbedder, EMBEDDER_KINDS, type EmbedderKind } from './create-embedder.ts'
export { HnswIndex, DEFAULT_HNSW_PARAMS, type HnswParams, type HnswIndexOptions, type IndexMatch, type LoadedIndex } from './hnsw-index.ts'
export { exactSearch, exactSearchNamed, type ExactMatch } from './exact-search.ts'
export { ShardedHnswIndex, shardOf, type LoadedShardedIndex } from './sharded-hnsw-index.ts'
export { buildShardedIndex, type NamedVector, type ParallelBuildOptions } from './hnsw-shard-build.ts'
export { QuantizedHnswIndex, DEFAULT_QUANTIZED_PARAMS, type QuantizedBuildOptions } from './quantized-hnsw-index.ts'
export type { VectorIndex, VectorIndexKind, LoadedVectorIndex } from './vector-index.ts'
export { TopK } from './top-k.ts'
export { scorePattern, idleDays, SCORE_WEIGHTS, RECENCY_TIME_CONSTANT_DAYS, type ScoreParts } from './scoring.ts'
export { updateConfidence, applyOutcome, MIN_CONFIDENCE, MAX_CONFIDENCE, MIN_STEP, DEFAULT_CONFIDENCE } from './learning.ts'
export { planConsolidation, mergePatterns, DEFAULT_CONSOLIDATION, type ConsolidationOptions, type ConsolidationPlan, type MergeStep, type PruneStep, type SimilarFinder } from './consolidate.ts'
export { ReasoningBankError, type ReasoningBankErrorCode } from './errors.ts'
export { embeddingDigest, fingerprint } from './fingerprint.ts'
export {
  ReasoningBank,
  type OpenOptions,
  type IndexOrigin,
  type IndexState,
  type StorePatternInput,
  type QueryOptions,
  type QueryMatch,
  type ListSort,
  type ListOptions,
  type BankStats,
  type ConsolidationResult
} from './reasoning-bank.ts'
