import { getRole, runAgent, type AgentRunResult } from '../../agents/index.ts'
import {
  clip, contextFrom, recordOutcome, relevantPatterns, transcriptSummary, type AttemptDeps, type AttemptJob, type AttemptStatus, type SpendGate
} from './attempt-runner.ts'
import { iterationTools, type IterationEnd } from './loop-tools.ts'
import type { LoopResume } from './loop-view.ts'
import { MAX_CHECKPOINT_CHARS, MAX_RESULT_TEXT_CHARS, type Iteration, type LoopSpec, type LoopStopReason, type Result } from './records.ts'

/**
 * One attempt of a loop task: iteration after iteration, each a fresh agent run given the prompt,
 * the PRD and the previous checkpoint. Every finished iteration is recorded (and durable locally)
 * before the next starts, so whoever takes the loop over after a crash resumes right after it.
 */

/** Iterations in a row that may fail (after the runtime's own retries) before the loop gives up. */
export const MAX_FAILED_ITERATIONS_IN_A_ROW = 3

/** Stores one finished iteration; resolves once it is durable locally. */
export type RecordIteration = (iteration: Iteration) => Promise<void>

/**
 * A spend cap stops the loop; an iteration's own limits (wall time, turns, tokens) only fail that
 * iteration, which is tried again.
 */
const SPEND_CAP_REACHED = /^budget exceeded: (?!wall time|max turns|max tokens)/

const FIRST_ITERATION: LoopResume = { nextIteration: 1, checkpoint: null, spentUsd: 0, inFlightOf: null, completed: false }

export function iterationPrompt (prompt: string, loop: LoopSpec, iteration: number, checkpoint: string | null): string {
  const parts = [prompt]
  if (loop.prd !== null) parts.push(`## PRD\n${loop.prd}`)
  parts.push(`## Loop\nThis is iteration ${iteration} of at most ${loop.maxIterations}.`)
  parts.push(checkpoint === null
    ? 'This is the first iteration: nothing has been done yet.'
    : `Checkpoint left by iteration ${iteration - 1}:\n${checkpoint}`)
  parts.push('Do the next piece of work, then end the iteration by calling `checkpoint` with what you did and what comes next, ' +
    'or `complete` once everything the PRD asks for is done.')
  return parts.join('\n\n')
}

/** The note the next iteration starts from: the tool call's, or else the agent's last text. */
function endOf (run: AgentRunResult, called: IterationEnd | undefined): IterationEnd {
  return called ?? { note: clip(run.text.trim() === '' ? '(no checkpoint given)' : run.text, MAX_CHECKPOINT_CHARS), complete: false }
}

/** Never rejects: every outcome becomes the attempt's result record. */
export async function runLoopAttempt (
  job: AttemptJob, deps: AttemptDeps, signal: AbortSignal, onStatus: (status: AttemptStatus) => void, record: RecordIteration
): Promise<Result> {
  const startedAt = Date.now()
  const loop = job.spec.loop as LoopSpec
  const resume = job.resume ?? FIRST_ITERATION
  const role = job.spec.stages[job.assignment.stage] ?? 'unknown'
  const totals = { turns: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 }
  let model: string | null = null
  let checkpoint = resume.checkpoint
  let lastRun: AgentRunResult | undefined
  let patterns: string[] = []
  const result = (status: Result['status'], error: string | null, stopReason?: LoopStopReason, retryable = false): Result => ({
    worker: deps.self,
    status,
    text: clip(checkpoint ?? lastRun?.text ?? '', MAX_RESULT_TEXT_CHARS),
    error: error === null ? null : clip(error, 2_000),
    retryable,
    role,
    model,
    turns: totals.turns,
    usage: { inputTokens: totals.inputTokens, outputTokens: totals.outputTokens },
    costUsd: totals.costUsd,
    durationMs: Date.now() - startedAt,
    transcript: lastRun === undefined ? [] : transcriptSummary(lastRun.transcript),
    patterns,
    finishedAt: Date.now(),
    ...(stopReason === undefined ? {} : { stopReason })
  })
  let agentRole
  let provider
  try {
    agentRole = getRole(role)
    provider = deps.provider()
  } catch (err) {
    return result('failed', (err as Error).message)
  }
  const matches = await relevantPatterns(job, deps)
  patterns = matches.map((match) => match.pattern.name)
  // A loop's spend cap is `loop.budgetUsd`.
  const { maxCostUsd: _taskCap, ...budget } = job.spec.budget
  const maxTurns = budget.maxTurns ?? agentRole.budget.maxTurns
  const spent = (): number => resume.spentUsd + totals.costUsd
  if (resume.completed) return result('done', null, 'completed')
  let failuresInARow = 0
  let repeatOf = resume.inFlightOf
  for (let iteration = resume.nextIteration; iteration <= loop.maxIterations;) {
    if (signal.aborted) return result('cancelled', 'cancelled')
    if (loop.budgetUsd !== null && spent() >= loop.budgetUsd) {
      return result('failed', `budget exceeded: the loop spent $${spent().toFixed(4)} of its $${loop.budgetUsd} budget`, 'budget')
    }
    const status: AttemptStatus = { turn: 0, maxTurns, tokens: totals.inputTokens + totals.outputTokens, costUsd: totals.costUsd, model, iteration }
    onStatus({ ...status })
    const { tools, ended } = iterationTools()
    const iterationStartedAt = Date.now()
    const run = await runAgent({
      role: agentRole,
      prompt: iterationPrompt(job.spec.prompt, loop, iteration, checkpoint),
      context: contextFrom(matches),
      tools: [...deps.tools, ...(deps.jobTools?.(job) ?? []), ...tools],
      provider,
      budget: { ...budget, wallTimeMs: Math.min(loop.iterationTimeoutMs, deps.taskTimeoutMs) },
      signal,
      prices: deps.prices,
      ...(loop.budgetUsd === null ? {} : { maxCostUsd: loop.budgetUsd - spent() }),
      ...(job.gate === undefined ? {} : { spendGate: async (runSpent: number) => (job.gate as SpendGate)(totals.costUsd + runSpent, signal) }),
      onProgress: (event) => {
        if (event.type === 'turn_start') {
          status.turn = event.turn
          status.model = event.model
        } else if (event.type === 'turn_end') {
          status.tokens = totals.inputTokens + totals.outputTokens + event.usage.inputTokens + event.usage.outputTokens
          status.costUsd = totals.costUsd + event.costUsd
        } else {
          return
        }
        onStatus({ ...status })
      }
    }).catch((err: unknown) => err as Error)
    if (run instanceof Error) return result('failed', `the agent could not start: ${run.message}`)
    lastRun = run
    totals.turns += run.turns
    totals.inputTokens += run.usage.inputTokens
    totals.outputTokens += run.usage.outputTokens
    totals.costUsd += run.costUsd
    model = run.model ?? model
    if (run.status === 'cancelled') return result('cancelled', run.error ?? 'cancelled')
    if (run.status === 'failed') {
      if (SPEND_CAP_REACHED.test(run.error ?? '')) return result('failed', run.error ?? 'budget exceeded', 'budget')
      failuresInARow++
      if (failuresInARow >= MAX_FAILED_ITERATIONS_IN_A_ROW) {
        return result('failed', `iteration ${iteration} failed ${failuresInARow} times in a row: ${run.error ?? 'no reason given'}`, 'repeated-failures')
      }
      continue
    }
    failuresInARow = 0
    const end = endOf(run, ended())
    try {
      await record({
        worker: deps.self,
        iteration,
        checkpoint: end.note,
        complete: end.complete,
        tokens: run.usage.inputTokens + run.usage.outputTokens,
        costUsd: run.costUsd,
        model: run.model ?? null,
        startedAt: iterationStartedAt,
        finishedAt: Date.now(),
        ...(repeatOf === null ? {} : { repeatOf })
      })
    } catch (err) {
      // Without its record the iteration would be lost to whoever resumes: let another attempt redo it.
      return result('failed', `could not record iteration ${iteration}: ${(err as Error).message}`, undefined, true)
    }
    repeatOf = null
    checkpoint = end.note
    if (end.complete) {
      await recordOutcome(deps, patterns, run)
      return result('done', null, 'completed')
    }
    iteration++
  }
  if (lastRun !== undefined) await recordOutcome(deps, patterns, lastRun)
  return result('done', null, 'max-iterations')
}
