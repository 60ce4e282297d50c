/**
 * Ranking score of a retrieved pattern:
 *
 *   score = 0.7 · similarity + 0.2 · confidence + 0.1 · recency,   recency = exp(−idleDays / 30)
 *
 * similarity is the cosine between query and pattern embeddings; confidence is the learned success
 * estimate (learning.ts); idleDays counts from the pattern's lastUsedAt, so recency halves about every
 * 21 days without use. Relevance dominates: confidence and recency reorder close matches but cannot lift
 * an unrelated pattern above a relevant one (they add at most 0.3).
 */

export const SCORE_WEIGHTS = { similarity: 0.7, confidence: 0.2, recency: 0.1 } as const

/** Days over which recency decays by a factor e. */
export const RECENCY_TIME_CONSTANT_DAYS = 30

const DAY_MS = 86_400_000

export interface ScoreParts {
  similarity: number
  confidence: number
  recency: number
  idleDays: number
  /** Each part times its weight; they sum to `score`. */
  weighted: { similarity: number, confidence: number, recency: number }
  score: number
}

export function scorePattern (similarity: number, confidence: number, lastUsedAt: number, now: number): ScoreParts {
  const idle = idleDays(lastUsedAt, now)
  const fresh = Math.exp(-idle / RECENCY_TIME_CONSTANT_DAYS)
  const weighted = {
    similarity: SCORE_WEIGHTS.similarity * similarity,
    confidence: SCORE_WEIGHTS.confidence * confidence,
    recency: SCORE_WEIGHTS.recency * fresh
  }
  return { similarity, confidence, recency: fresh, idleDays: idle, weighted, score: weighted.similarity + weighted.confidence + weighted.recency }
}

/** Days (fractional) since `lastUsedAt`; a timestamp in the future (clock skew between peers) counts as now. */
export function idleDays (lastUsedAt: number, now: number): number {
  return Math.max(0, now - lastUsedAt) / DAY_MS
}
