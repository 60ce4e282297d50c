import { compareAttempts, type AttemptRef } from './keys.ts'
import type { TaskRecords } from './record-index.ts'
import type { Assignment, Cancel, Claim, Decision, Iteration, Progress, Result, TaskSpec } from './records.ts'

/**
 * A task's state, derived from its records alone: every replica holding the same records derives
 * the same view, whatever order the records arrived in. Nobody writes a task's state.
 */

/** `waiting`: for the tasks named in `after`. `input-required`: for an approval decision. */
export const TASK_STATES = ['waiting', 'input-required', 'submitted', 'assigned', 'running', 'done', 'failed', 'cancelled'] as const
export type TaskState = typeof TASK_STATES[number]

export function isTerminal (state: TaskState): boolean {
  return state === 'done' || state === 'failed' || state === 'cancelled'
}

export interface Attempt {
  id: string
  ref: AttemptRef
  assignment: Assignment
  /** Only the assigned worker's progress counts. */
  progress?: Progress
  /** Only the assigned worker's result counts. */
  result?: Result
  /** Loop tasks: iterations the assigned worker recorded in this attempt, in order. */
  iterations: Iteration[]
}

/** What the leader should assign next, when the task waits for a worker. */
export interface NextStep {
  stage: number
  inputFrom: string | null
  reason: 'scheduled' | 'retry' | 'next-stage'
  /** The attempt in force when this step became due (what mesh claims refer to). */
  after: string | null
  /** Workers that already failed this stage: tried last. */
  avoid: string[]
  /** Ring order continues after this member (the previous stage's or the failed attempt's worker). */
  ringAfter: string | null
}

export interface TaskView {
  id: string
  spec: TaskSpec
  state: TaskState
  /** Stage of the attempt in force (0 before the first assignment). */
  stage: number
  /** Every assigned attempt, oldest first. */
  attempts: Attempt[]
  /** The attempt in force: the one with the highest (term, n). */
  current?: Attempt
  /** The accepted result of the final stage, once done. */
  result?: Result
  error?: string
  next?: NextStep
  claims: ReadonlyMap<string, Claim>
  cancel?: Cancel
  /** Approval-gated tasks: the decision that stands at the gate reached last, once one is made. */
  decision?: Decision
  /** The gate reached last: 0 before the task starts, n before stage n. */
  gate?: number
  /** Dependencies not done yet (state `waiting`). */
  blockedBy?: string[]
}

/**
 * The decision that stands: the earliest by its maker's clock, then by PeerId. Deciders race only
 * when two people decide within moments of each other; every replica picks the same one.
 */
export function standingDecision (decisions: ReadonlyMap<string, Decision>, stage = 0): Decision | undefined {
  let standing: Decision | undefined
  for (const decision of decisions.values()) {
    if ((decision.stage ?? 0) !== stage) continue
    if (standing === undefined || decision.at < standing.at || (decision.at === standing.at && decision.by < standing.by)) standing = decision
  }
  return standing
}

function attemptsOf (records: TaskRecords): Attempt[] {
  const attempts: Attempt[] = []
  for (const record of records.attempts.values()) {
    const assignment = record.assignment
    if (assignment === undefined) continue
    const iterations = [...record.iterations.values()].filter((iteration) => iteration.worker === assignment.worker).sort((a, b) => a.iteration - b.iteration)
    const attempt: Attempt = { id: record.id, ref: record.ref, assignment, iterations }
    if (record.progress !== undefined && record.progress.worker === assignment.worker) attempt.progress = record.progress
    if (record.result !== undefined && record.result.worker === assignment.worker) attempt.result = record.result
    attempts.push(attempt)
  }
  return attempts.sort((a, b) => compareAttempts(a.ref, b.ref))
}

function failedWorkers (attempts: Attempt[], stage: number): string[] {
  return [...new Set(attempts.flatMap((attempt) =>
    attempt.assignment.stage === stage && attempt.result !== undefined && attempt.result.status !== 'done' && attempt.assignment.worker !== null
      ? [attempt.assignment.worker]
      : []))]
}

/** Attempts given to a worker at `stage` (abandonments excluded): what `maxAttempts` limits. */
export function attemptsAtStage (view: Pick<TaskView, 'attempts'>, stage: number): number {
  return view.attempts.filter((attempt) => attempt.assignment.stage === stage && attempt.assignment.worker !== null).length
}

/** Undefined until the task's spec has arrived: records without a spec are not a task yet. */
export function deriveTask (records: TaskRecords): TaskView | undefined {
  const spec = records.spec
  if (spec === undefined) return undefined
  const attempts = attemptsOf(records)
  const current = attempts.at(-1)
  const decision = spec.approve === true ? standingDecision(records.decisions) : undefined
  const base = {
    id: records.id,
    spec,
    attempts,
    claims: records.claims,
    ...(records.cancel === undefined ? {} : { cancel: records.cancel }),
    ...(spec.approve === true ? { gate: 0 } : {}),
    ...(decision === undefined ? {} : { decision })
  }
  if (current === undefined) {
    if (records.cancel !== undefined) return { ...base, state: 'cancelled', stage: 0 }
    if (spec.approve === true && decision === undefined) return { ...base, state: 'input-required', stage: 0 }
    if (decision?.decision === 'rejected') {
      return { ...base, state: 'failed', stage: 0, error: `rejected by ${decision.by}${decision.note === null ? '' : `: ${decision.note}`}` }
    }
    return { ...base, state: 'submitted', stage: 0, next: { stage: 0, inputFrom: null, reason: 'scheduled', after: null, avoid: [], ringAfter: null } }
  }
  const { assignment, result } = current
  const stage = assignment.stage
  // The last gate reached: the one before the stage in force, or before the next once this one is done.
  const reachable = result?.status === 'done' ? stage + 1 : stage
  const gate = Math.max(...(spec.approveStages ?? []).filter((gated) => gated <= reachable), spec.approve === true ? 0 : -1)
  const gateDecision = gate > 0 ? standingDecision(records.decisions, gate) : decision
  const withCurrent = {
    ...base, current, stage, ...(gate >= 0 ? { gate } : {}), ...(gateDecision === undefined ? {} : { decision: gateDecision })
  }
  const lastStage = spec.stages.length - 1
  // A finished final stage stands even against a cancellation that came too late.
  if (result?.status === 'done' && stage >= lastStage) return { ...withCurrent, state: 'done', result }
  if (records.cancel !== undefined) return { ...withCurrent, state: 'cancelled' }
  if (assignment.worker === null) return { ...withCurrent, state: 'failed', error: assignment.error ?? 'abandoned by the leader' }
  if (result === undefined) return { ...withCurrent, state: current.progress?.state === 'running' ? 'running' : 'assigned' }
  if (result.status === 'done') {
    // A gate before the next stage: the output so far waits for a decision.
    if (gate === stage + 1) {
      if (gateDecision === undefined) return { ...withCurrent, state: 'input-required' }
      if (gateDecision.decision === 'rejected') {
        return { ...withCurrent, state: 'failed', error: `stage ${gate + 1} rejected by ${gateDecision.by}${gateDecision.note === null ? '' : `: ${gateDecision.note}`}` }
      }
    }
    return {
      ...withCurrent,
      state: 'submitted',
      next: { stage: stage + 1, inputFrom: current.id, reason: 'next-stage', after: current.id, avoid: [], ringAfter: assignment.worker }
    }
  }
  const error = result.error ?? `attempt ${current.id} ended: ${result.status}`
  if (!result.retryable || attemptsAtStage({ attempts }, stage) >= spec.maxAttempts) return { ...withCurrent, state: 'failed', error }
  return {
    ...withCurrent,
    state: 'submitted',
    error,
    next: { stage, inputFrom: assignment.inputFrom, reason: 'retry', after: current.id, avoid: failedWorkers(attempts, stage), ringAfter: assignment.worker }
  }
}
