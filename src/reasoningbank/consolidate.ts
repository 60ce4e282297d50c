import type { Pattern } from './pattern.ts'
import { idleDays } from './scoring.ts'
import { cosine } from './vector-math.ts'

/**
 * Consolidation keeps the bank small and its statistics pooled:
 *
 * - prune: a pattern idle (no recorded outcome) for more than `pruneIdleDays` with confidence below
 *   `pruneBelowConfidence` is deleted. Pruning is decided first, so a stale duplicate is dropped rather
 *   than merged.
 * - merge: among the rest, patterns are visited from most to least trusted (confidence, then uses); each
 *   unvisited one keeps every remaining pattern of the same namespace and embedder whose embedding has
 *   cosine ≥ `threshold` with it. The keeper's content and confidence stay; uses, successes and failures
 *   are summed, createdAt is the earliest, lastUsedAt the latest, metadata keys missing on the keeper
 *   are taken from the merged ones and `metadata.mergedFrom` lists the merged names. Comparing each
 *   merged pattern with its keeper (not with any group member) prevents chains of near-duplicates from
 *   merging unrelated ends.
 */

export interface ConsolidationOptions {
  /** Cosine similarity at or above which two patterns are near-duplicates; default 0.95. */
  threshold?: number
  pruneIdleDays?: number
  pruneBelowConfidence?: number
  now?: number
}

export const DEFAULT_CONSOLIDATION = { threshold: 0.95, pruneIdleDays: 90, pruneBelowConfidence: 0.3 } as const

export interface MergeStep {
  keep: string
  absorb: Array<{ name: string, similarity: number }>
}

export interface PruneStep {
  name: string
  confidence: number
  idleDays: number
}

export interface ConsolidationPlan {
  merges: MergeStep[]
  prunes: PruneStep[]
}

/** Candidate near-duplicates of a pattern, e.g. from the HNSW index; similarities are re-checked exactly. */
export type SimilarFinder = (pattern: Pattern) => Iterable<string>

export function planConsolidation (patterns: readonly Pattern[], options: ConsolidationOptions = {}, findSimilar?: SimilarFinder): ConsolidationPlan {
  const threshold = options.threshold ?? DEFAULT_CONSOLIDATION.threshold
  const pruneIdleDays = options.pruneIdleDays ?? DEFAULT_CONSOLIDATION.pruneIdleDays
  const pruneBelow = options.pruneBelowConfidence ?? DEFAULT_CONSOLIDATION.pruneBelowConfidence
  const now = options.now ?? Date.now()

  const prunes: PruneStep[] = []
  const live = new Map<string, Pattern>()
  for (const pattern of patterns) {
    const idle = idleDays(pattern.lastUsedAt, now)
    if (idle > pruneIdleDays && pattern.confidence < pruneBelow) prunes.push({ name: pattern.name, confidence: pattern.confidence, idleDays: idle })
    else live.set(pattern.name, pattern)
  }

  const candidatesOf = findSimilar ?? ((): Iterable<string> => live.keys())
  const visited = new Set<string>()
  const merges: MergeStep[] = []
  for (const keeper of [...live.values()].sort(byTrust)) {
    if (visited.has(keeper.name)) continue
    visited.add(keeper.name)
    const absorb: MergeStep['absorb'] = []
    for (const name of candidatesOf(keeper)) {
      const other = live.get(name)
      if (other === undefined || visited.has(name)) continue
      if (other.namespace !== keeper.namespace || other.embedder !== keeper.embedder) continue
      const similarity = cosine(keeper.embedding, other.embedding)
      if (similarity < threshold) continue
      visited.add(name)
      absorb.push({ name, similarity })
    }
    if (absorb.length > 0) merges.push({ keep: keeper.name, absorb })
  }
  return { merges, prunes }
}

/** The keeper with the counters and metadata of the patterns merged into it (see the rules above). */
export function mergePatterns (keeper: Pattern, absorbed: readonly Pattern[]): Pattern {
  const metadata: Record<string, unknown> = {}
  for (const other of [...absorbed].reverse()) Object.assign(metadata, other.metadata)
  Object.assign(metadata, keeper.metadata)
  const earlierMerges = Array.isArray(keeper.metadata.mergedFrom) ? keeper.metadata.mergedFrom : []
  metadata.mergedFrom = [...earlierMerges, ...absorbed.map((other) => other.name)]
  const all = [keeper, ...absorbed]
  return {
    ...keeper,
    uses: sum(all, (p) => p.uses),
    successes: sum(all, (p) => p.successes),
    failures: sum(all, (p) => p.failures),
    createdAt: Math.min(...all.map((p) => p.createdAt)),
    lastUsedAt: Math.max(...all.map((p) => p.lastUsedAt)),
    metadata
  }
}

/** Most trusted first; the name makes the order total, so plans are deterministic. */
function byTrust (a: Pattern, b: Pattern): number {
  return b.confidence - a.confidence || b.uses - a.uses || a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
}

function sum (patterns: readonly Pattern[], value: (pattern: Pattern) => number): number {
  return patterns.reduce((total, pattern) => total + value(pattern), 0)
}
