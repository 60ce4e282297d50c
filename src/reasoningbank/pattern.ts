/** A learned pattern as it lives in replicated memory. Timestamps are epoch milliseconds. */
export interface Pattern {
  name: string
  content: string
  namespace: string
  /** Estimated probability that applying the pattern succeeds, in [0, 1]; see learning.ts. */
  confidence: number
  /** Outcomes recorded for the pattern (successes + failures); retrievals are counted locally, not here. */
  uses: number
  successes: number
  failures: number
  createdAt: number
  lastUsedAt: number
  /** Embedding of `content`, L2-normalised, made by the embedder named in `embedder`. */
  embedding: number[]
  embedder: string
  metadata: Record<string, unknown>
}

/** A pattern without its embedding: what listings and query results hand out. */
export type PatternInfo = Omit<Pattern, 'embedding'>

export function withoutEmbedding (pattern: Pattern): PatternInfo {
  const { embedding: _embedding, ...info } = pattern
  return info
}
