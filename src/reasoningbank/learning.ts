import type { Pattern } from './pattern.ts'

/**
 * Confidence update on a task outcome:
 *
 *   step = max(MIN_STEP, 1 / (uses + 3))
 *   confidence' = clamp(confidence + step · (outcome − confidence), MIN_CONFIDENCE, MAX_CONFIDENCE)
 *
 * where outcome is 1 for success and 0 for failure and uses counts outcomes recorded before this one.
 * Starting from 0.5 with uses = 0, this is exactly the mean of a Beta(1, 1) posterior,
 * (successes + 1) / (uses + 2): early outcomes move confidence a lot, later ones less. The step floor
 * (0.05, an effective memory of ~20 outcomes) keeps old patterns able to adapt when they stop working,
 * and the bounds keep any pattern from becoming certain or hopeless, so it can still win or lose rank.
 */

export const MIN_CONFIDENCE = 0.05
export const MAX_CONFIDENCE = 0.99
export const MIN_STEP = 0.05
/** Confidence of a new pattern when the caller gives none: no evidence either way. */
export const DEFAULT_CONFIDENCE = 0.5

export function updateConfidence (confidence: number, uses: number, success: boolean): number {
  const step = Math.max(MIN_STEP, 1 / (Math.max(0, uses) + 3))
  const next = confidence + step * ((success ? 1 : 0) - confidence)
  return Math.min(MAX_CONFIDENCE, Math.max(MIN_CONFIDENCE, next))
}

/** The pattern after one recorded outcome at time `now`: counters, lastUsedAt and confidence updated. */
export function applyOutcome (pattern: Pattern, success: boolean, now: number): Pattern {
  return {
    ...pattern,
    confidence: updateConfidence(pattern.confidence, pattern.uses, success),
    uses: pattern.uses + 1,
    successes: pattern.successes + (success ? 1 : 0),
    failures: pattern.failures + (success ? 0 : 1),
    lastUsedAt: Math.max(pattern.lastUsedAt, now)
  }
}
