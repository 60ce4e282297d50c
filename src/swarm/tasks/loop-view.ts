import type { Iteration, LoopStopReason } from './records.ts'
import type { Attempt } from './task-view.ts'

/**
 * A loop task's progress, derived from its attempts' iteration records alone (pure): which
 * iteration each number stands for, the checkpoint to resume from, and what the loop has spent.
 */

export interface AcceptedIteration extends Iteration {
  /** The attempt that ran it. */
  attempt: string
}

export interface LoopProgress {
  /** The accepted iterations, 1..k, each number once. */
  iterations: AcceptedIteration[]
  /** The iteration the attempt in force is running now, from its progress. */
  running: number | null
  /** Spend of every attempt, superseded ones included: that money is gone either way. */
  spentUsd: number
  stopReason: LoopStopReason | null
}

/** Where the next attempt of a loop starts. */
export interface LoopResume {
  nextIteration: number
  checkpoint: string | null
  spentUsd: number
  /** The attempt that had `nextIteration` in flight when it was lost, if one did. */
  inFlightOf: string | null
  /** The last recorded iteration declared the work complete (its attempt ended before saying so). */
  completed: boolean
}

/**
 * Each iteration number is taken from the newest attempt that recorded it; an older attempt only
 * fills numbers below the newer one's first. A superseded worker that kept going after it was
 * replaced therefore never displaces the chain the attempt in force built on.
 */
export function acceptedIterations (attempts: readonly Attempt[]): AcceptedIteration[] {
  const chain: AcceptedIteration[] = []
  let below = Number.POSITIVE_INFINITY
  for (const attempt of [...attempts].reverse()) {
    const taken = attempt.iterations.filter((iteration) => iteration.iteration < below)
    if (taken.length === 0) continue
    chain.unshift(...taken.map((iteration) => ({ ...iteration, attempt: attempt.id })))
    below = taken[0]?.iteration ?? below
  }
  return chain
}

export function loopProgress (attempts: readonly Attempt[]): LoopProgress {
  const current = attempts.at(-1)
  let spentUsd = 0
  for (const attempt of attempts) spentUsd += attempt.result?.costUsd ?? attempt.progress?.costUsd ?? 0
  return {
    iterations: acceptedIterations(attempts),
    running: current !== undefined && current.result === undefined ? current.progress?.iteration ?? null : null,
    spentUsd,
    stopReason: current?.result?.stopReason ?? null
  }
}

/** What the attempt in force (the last of `attempts`) resumes from: the chain the earlier attempts left. */
export function loopResume (attempts: readonly Attempt[]): LoopResume {
  const earlier = attempts.slice(0, -1)
  const chain = acceptedIterations(earlier)
  const last = chain.at(-1)
  const nextIteration = (last?.iteration ?? 0) + 1
  const previous = earlier.findLast((attempt) => attempt.assignment.worker !== null)
  const inFlight = previous !== undefined && previous.progress?.iteration === nextIteration
  return {
    nextIteration,
    checkpoint: last?.checkpoint ?? null,
    spentUsd: loopProgress(earlier).spentUsd,
    inFlightOf: inFlight ? previous.id : null,
    completed: last?.complete === true
  }
}
