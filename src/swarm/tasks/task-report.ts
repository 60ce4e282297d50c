import type { FileRef } from '../../../protocols/blob.ts'
import { loopProgress } from './loop-view.ts'
import type { LoopSpec, LoopStopReason, Progress, Result, TranscriptLine } from './records.ts'
import type { Attempt, TaskState, TaskView } from './task-view.ts'

/** Tasks as the control API and the CLI show them: plain JSON built from a derived view. */

export interface AttemptReport {
  id: string
  stage: number
  role: string
  worker: string | null
  term: number
  reason: string
  assignedAt: number
  /** waiting | running (progress seen) | assigned (not yet) | done | failed | cancelled | abandoned */
  status: string
  error: string | null
  durationMs: number | null
  tokens: number
  costUsd: number
}

export interface StageOutput {
  stage: number
  role: string
  worker: string
  attempt: string
  text: string
}

export interface IterationReport {
  iteration: number
  attempt: string
  worker: string
  checkpoint: string
  complete: boolean
  tokens: number
  costUsd: number
  durationMs: number
  finishedAt: number
  /** Set when this run repeats the iteration that attempt had in flight when it was lost. */
  repeatOf: string | null
}

export interface LoopReport extends Omit<LoopSpec, 'prd'> {
  prd: string | null
  /** The iteration running now, if any. */
  running: number | null
  /** Spent by every attempt of the loop. */
  spentUsd: number
  /** The checkpoint the next iteration starts from. */
  checkpoint: string | null
  iterationLog: IterationReport[]
}

export interface ApprovalReport {
  state: 'pending' | 'approved' | 'rejected'
  /** The stage the gate comes before, counting from 1 (1: before the task starts). */
  beforeStage: number
  /** What is to be approved: the task's prompt, or the output of the stage before the gate. */
  request: string
  by: string | null
  note: string | null
  at: number | null
}

export interface TaskReport {
  id: string
  state: TaskState
  /** The final stage's answer once done, else null. */
  result: string | null
  error: string | null
  swarm: string
  prompt: string
  /** The single role, or the stages joined with '>'. */
  role: string
  stages: string[]
  stage: number
  assignee: string | null
  attempts: number
  maxAttempts: number
  attemptLog: AttemptReport[]
  progress: (Omit<Progress, 'seq' | 'worker'>) | null
  /** Accepted output of every finished stage, in order (multi-stage tasks). */
  stageOutputs: StageOutput[]
  transcript: TranscriptLine[]
  usage: { inputTokens: number, outputTokens: number }
  costUsd: number
  model: string | null
  patterns: string[]
  submittedBy: string
  submittedAt: number
  finishedAt: number | null
  durationMs: number | null
  /** Files attached at submit. */
  files: FileRef[]
  /** Files the agent of the shown result wrote, with the worker that holds them. */
  resultFiles: Array<FileRef & { worker: string }>
  /** The task's spend cap in USD (a loop's `budgetUsd`), if it has one. */
  budgetUsd: number | null
  /** Approval-gated tasks: pending until someone decides. */
  approval: ApprovalReport | null
  /** Tasks this one waits for. */
  after: string[]
  /** Of those, the ones not done yet. */
  blockedBy: string[]
  /** Loop tasks: iterations recorded (each number once), else 0. */
  iterations: number
  /** Loop tasks: why the loop ended, once it has. */
  stopReason: LoopStopReason | null
  loop: LoopReport | null
}

export type TaskSummary = Pick<TaskReport, 'id' | 'state' | 'swarm' | 'role' | 'assignee' | 'attempts' | 'submittedAt' | 'finishedAt' | 'error' | 'iterations' | 'blockedBy'> & {
  /** Approval-gated tasks: pending, approved or rejected. */
  approval: ApprovalReport['state'] | null
  prompt: string
  tokens: number
  costUsd: number
}

function attemptStatus (attempt: Attempt): string {
  if (attempt.assignment.worker === null) return 'abandoned'
  if (attempt.result !== undefined) return attempt.result.status
  return attempt.progress?.state ?? 'assigned'
}

function tokensOf (result: Result | undefined): number {
  return result === undefined ? 0 : result.usage.inputTokens + result.usage.outputTokens
}

function reportAttempt (view: TaskView, attempt: Attempt): AttemptReport {
  const { assignment, result, progress } = attempt
  return {
    id: attempt.id,
    stage: assignment.stage,
    role: view.spec.stages[assignment.stage] ?? '?',
    worker: assignment.worker,
    term: assignment.term,
    reason: assignment.reason,
    assignedAt: assignment.at,
    status: attemptStatus(attempt),
    error: result?.error ?? assignment.error ?? null,
    durationMs: result?.durationMs ?? null,
    tokens: result === undefined ? progress?.tokens ?? 0 : tokensOf(result),
    costUsd: result?.costUsd ?? progress?.costUsd ?? 0
  }
}

/** The chain of accepted stage outputs leading to the attempt in force, following `inputFrom`. */
function stageOutputs (view: TaskView): StageOutput[] {
  const byId = new Map(view.attempts.map((attempt) => [attempt.id, attempt]))
  const outputs: StageOutput[] = []
  const push = (attempt: Attempt | undefined): void => {
    if (attempt?.result?.status !== 'done' || attempt.assignment.worker === null) return
    outputs.unshift({ stage: attempt.assignment.stage, role: attempt.result.role, worker: attempt.assignment.worker, attempt: attempt.id, text: attempt.result.text })
  }
  const current = view.current
  if (current === undefined) return outputs
  push(current)
  for (let from = current.assignment.inputFrom; from !== null;) {
    const attempt = byId.get(from)
    push(attempt)
    from = attempt?.assignment.inputFrom ?? null
  }
  return outputs
}

function reportLoop (view: TaskView): LoopReport | null {
  const loop = view.spec.loop
  if (loop === undefined) return null
  const progress = loopProgress(view.attempts)
  return {
    ...loop,
    running: progress.running,
    spentUsd: progress.spentUsd,
    checkpoint: progress.iterations.at(-1)?.checkpoint ?? null,
    iterationLog: progress.iterations.map((iteration) => ({
      iteration: iteration.iteration,
      attempt: iteration.attempt,
      worker: iteration.worker,
      checkpoint: iteration.checkpoint,
      complete: iteration.complete,
      tokens: iteration.tokens,
      costUsd: iteration.costUsd,
      durationMs: iteration.finishedAt - iteration.startedAt,
      finishedAt: iteration.finishedAt,
      repeatOf: iteration.repeatOf ?? null
    }))
  }
}

const MAX_REQUEST_CHARS = 2_000

/** The gate reached last (or the first one ahead, pending): its decision, or what it waits to have approved. */
function approvalOf (view: TaskView): ApprovalReport | null {
  const { spec } = view
  const gates = [...(spec.approve === true ? [0] : []), ...(spec.approveStages ?? [])]
  const gate = view.gate ?? gates[0]
  if (gate === undefined) return null
  const before = gate === 0
    ? undefined
    : view.attempts.findLast((attempt) => attempt.assignment.stage === gate - 1 && attempt.result?.status === 'done')?.result?.text
  const request = gate === 0 ? spec.prompt : before === undefined ? `the output of stage ${gate} (not there yet)` : before
  const decision = view.gate === gate ? view.decision : undefined
  return {
    state: decision?.decision ?? 'pending',
    beforeStage: gate + 1,
    request: request.length > MAX_REQUEST_CHARS ? `${request.slice(0, MAX_REQUEST_CHARS - 1)}…` : request,
    by: decision?.by ?? null,
    note: decision?.note ?? null,
    at: decision?.at ?? null
  }
}

export function reportTask (view: TaskView): TaskReport {
  const { spec, current } = view
  const latestResult = [...view.attempts].reverse().find((attempt) => attempt.result !== undefined)?.result
  const shown = view.result ?? latestResult
  const usage = { inputTokens: 0, outputTokens: 0 }
  let costUsd = 0
  for (const attempt of view.attempts) {
    usage.inputTokens += attempt.result?.usage.inputTokens ?? 0
    usage.outputTokens += attempt.result?.usage.outputTokens ?? 0
    costUsd += attempt.result?.costUsd ?? attempt.progress?.costUsd ?? 0
  }
  const finishedAt = view.state === 'done'
    ? view.result?.finishedAt ?? null
    : view.state === 'failed' ? current?.result?.finishedAt ?? current?.assignment.at ?? null
      : view.state === 'cancelled' ? view.cancel?.at ?? null : null
  const loop = reportLoop(view)
  const progress = current !== undefined && current.result === undefined && current.progress !== undefined
    ? (({ seq: _seq, worker: _worker, ...rest }) => rest)(current.progress)
    : null
  return {
    id: view.id,
    state: view.state,
    result: view.result?.text ?? null,
    error: view.state === 'done' ? null : view.error ?? null,
    swarm: spec.swarm,
    prompt: spec.prompt,
    role: spec.stages.join('>'),
    stages: spec.stages,
    stage: view.stage,
    assignee: current?.assignment.worker ?? null,
    attempts: view.attempts.filter((attempt) => attempt.assignment.worker !== null).length,
    maxAttempts: spec.maxAttempts,
    attemptLog: view.attempts.map((attempt) => reportAttempt(view, attempt)),
    progress,
    stageOutputs: stageOutputs(view),
    transcript: shown?.transcript ?? [],
    usage,
    costUsd,
    model: shown?.model ?? null,
    patterns: shown?.patterns ?? [],
    submittedBy: spec.submittedBy,
    submittedAt: spec.submittedAt,
    finishedAt,
    durationMs: finishedAt === null ? null : finishedAt - spec.submittedAt,
    files: spec.files ?? [],
    resultFiles: (shown?.files ?? []).map((file) => ({ ...file, worker: shown?.worker ?? '' })),
    budgetUsd: spec.loop?.budgetUsd ?? spec.budget.maxCostUsd ?? null,
    approval: approvalOf(view),
    after: spec.after ?? [],
    blockedBy: view.blockedBy ?? [],
    iterations: loop?.iterationLog.length ?? 0,
    stopReason: view.state === 'done' || view.state === 'failed' ? current?.result?.stopReason ?? null : null,
    loop
  }
}

export function summarizeTask (view: TaskView): TaskSummary {
  const report = reportTask(view)
  return {
    id: report.id,
    state: report.state,
    swarm: report.swarm,
    role: report.role,
    assignee: report.assignee,
    attempts: report.attempts,
    submittedAt: report.submittedAt,
    finishedAt: report.finishedAt,
    error: report.error,
    iterations: report.iterations,
    blockedBy: report.blockedBy,
    approval: report.approval?.state ?? null,
    prompt: report.prompt.length > 120 ? `${report.prompt.slice(0, 119)}…` : report.prompt,
    tokens: report.usage.inputTokens + report.usage.outputTokens,
    costUsd: report.costUsd
  }
}
