import {
  getRole, runAgent, type AgentProgressEvent, type AgentRole, type AgentRunResult, type AgentTool, type PriceTable, type ProviderConfig, type RoutePriority, type TranscriptEntry
} from '../../agents/index.ts'
import { attemptId } from './keys.ts'
import type { FileRef } from '../../../protocols/blob.ts'
import type { LoopResume } from './loop-view.ts'
import type { AttemptWorkspace, AttemptWorkspaces, PatternBank, PatternMatch } from './ports.ts'
import { MAX_RESULT_TEXT_CHARS, type Assignment, type Result, type TaskSpec, type TranscriptLine } from './records.ts'

/** One attempt of one task on this node: context from the ReasoningBank, the agent run, and its result record. */

export interface AttemptJob {
  spec: TaskSpec
  assignment: Assignment
  /** The previous stage's output, for every stage after the first; its files go into this attempt's workspace. */
  input: { role: string, text: string, files?: FileRef[], worker?: string } | null
  /** Loop tasks: where this attempt picks the loop up. */
  resume?: LoopResume
  /** Spend caps beyond the task's own: given what the attempt has spent, how much more it may spend (may wait for an allotment). */
  gate?: SpendGate
  /** What the task's earlier attempts spent (counts against `budget.maxCostUsd`). */
  spentBeforeUsd?: number
}

export type SpendGate = (attemptSpentUsd: number, signal: AbortSignal) => Promise<number>

export interface AttemptDeps {
  self: string
  provider: () => ProviderConfig
  patterns: () => PatternBank | undefined
  tools: readonly AgentTool[]
  /** Tools only some roles may use (MCP servers', the workspace's), on top of `tools`. */
  roleTools?: (role: string) => readonly AgentTool[]
  /** Gives each attempt its own directory with the task's files; absent, agents get no workspace. */
  workspaces?: AttemptWorkspaces
  /** A role's model priority as this node's config sets it; the task's own priority wins over it. */
  rolePriority?: (role: string) => RoutePriority | undefined
  /** Roles beyond the built-in ones (user-written, shared by members). */
  roles?: (name: string) => AgentRole | undefined
  /** Tools that depend on the job (e.g. a planner's plan submission to its swarm). */
  jobTools?: (job: AttemptJob) => AgentTool[]
  /** Patterns put in the agent's context (0: none). */
  patternsInContext: number
  /** Caps the wall time of every attempt (every iteration of a loop), whatever the task's budget says. */
  taskTimeoutMs: number
  /** Model prices added to or overriding the built-in table. */
  prices: PriceTable
}

export interface AttemptStatus {
  turn: number
  maxTurns: number
  tokens: number
  costUsd: number
  model: string | null
  /** Loop tasks: the iteration running. */
  iteration?: number
}

const MAX_TRANSCRIPT_LINES = 24

export function clip (text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`
}

/** The first line (the prompt) and the latest lines: what `task show` prints. */
export function transcriptSummary (entries: readonly TranscriptEntry[]): TranscriptLine[] {
  const lines = entries.map((entry): TranscriptLine => {
    if (entry.role === 'user') return { turn: entry.turn, role: 'user', text: clip(entry.text, 300) }
    if (entry.role === 'assistant') {
      const detail = entry.toolCalls.length > 0 ? `tools: ${entry.toolCalls.join(', ')}` : `stop: ${entry.stopReason ?? '-'}`
      return { turn: entry.turn, role: 'assistant', text: clip(entry.text, 300), detail: clip(detail, 120) }
    }
    return { turn: entry.turn, role: 'tool', text: clip(entry.text, 300), detail: clip(`${entry.name}${entry.isError ? ' (error)' : ''}`, 120) }
  })
  return lines.length <= MAX_TRANSCRIPT_LINES ? lines : [lines[0] as TranscriptLine, ...lines.slice(-(MAX_TRANSCRIPT_LINES - 1))]
}

function promptFor (job: AttemptJob): string {
  const { spec, assignment, input } = job
  if (input === null) return spec.prompt
  return `${spec.prompt}\n\nYou handle stage ${assignment.stage + 1} of ${spec.stages.length} (${spec.stages.join(' -> ')}).\n` +
    `Output of the previous stage (${input.role}):\n${input.text}`
}

export function contextFrom (matches: readonly PatternMatch[]): string | undefined {
  if (matches.length === 0) return undefined
  return matches.map(({ pattern }) => `- ${pattern.name} (confidence ${pattern.confidence.toFixed(2)}): ${pattern.content}`).join('\n')
}

export async function relevantPatterns (job: AttemptJob, deps: AttemptDeps): Promise<PatternMatch[]> {
  const bank = deps.patterns()
  if (bank === undefined || deps.patternsInContext === 0) return []
  try {
    return await bank.query(job.spec.prompt, { limit: deps.patternsInContext })
  } catch {
    // Context is a help, not a precondition: an empty or unavailable bank leaves the agent without it.
    return []
  }
}

/**
 * Runs the agent for one assignment and returns the result record to store. Never rejects: every
 * failure, including invalid settings, becomes a failed result with the reason.
 */
export async function runAttempt (job: AttemptJob, deps: AttemptDeps, signal: AbortSignal, onStatus: (status: AttemptStatus) => void): Promise<Result> {
  const startedAt = Date.now()
  const role = job.spec.stages[job.assignment.stage] ?? 'unknown'
  const failed = (error: string, retryable: boolean): Result => ({
    worker: deps.self, status: 'failed', text: '', error: clip(error, 2_000), retryable, role, model: null, turns: 0,
    usage: { inputTokens: 0, outputTokens: 0 }, costUsd: 0, durationMs: Date.now() - startedAt, transcript: [], patterns: [], finishedAt: Date.now()
  })
  let agentRole
  let provider
  try {
    agentRole = deps.roles?.(role) ?? getRole(role)
    provider = deps.provider()
  } catch (err) {
    return failed((err as Error).message, false)
  }
  const matches = await relevantPatterns(job, deps)
  const { maxCostUsd, ...budget } = job.spec.budget
  const maxTurns = budget.maxTurns ?? agentRole.budget.maxTurns
  const costCap = maxCostUsd === undefined ? {} : { maxCostUsd: maxCostUsd - (job.spentBeforeUsd ?? 0) }
  if (costCap.maxCostUsd !== undefined && costCap.maxCostUsd <= 0) {
    return failed(`budget exceeded: the task's $${maxCostUsd} budget is spent by its earlier attempts`, false)
  }
  const status: AttemptStatus = { turn: 0, maxTurns, tokens: 0, costUsd: 0, model: null }
  const onProgress = (event: AgentProgressEvent): void => {
    if (event.type === 'turn_start') {
      status.turn = event.turn
      status.model = event.model
    } else if (event.type === 'turn_end') {
      status.tokens = event.usage.inputTokens + event.usage.outputTokens
      status.costUsd = event.costUsd
    } else {
      return
    }
    onStatus({ ...status })
  }
  let workspace: AttemptWorkspace | undefined
  try {
    const carried = job.input?.files !== undefined && job.input.worker !== undefined ? { files: job.input.files, holder: job.input.worker } : undefined
    workspace = await deps.workspaces?.open(job.spec, attemptId(job.assignment), role, signal, carried)
  } catch (err) {
    // Most likely a file no reachable peer could give: another worker, later, may do better.
    return failed(`could not prepare the attempt's workspace: ${(err as Error).message}`, true)
  }
  let run: AgentRunResult
  let files: Result['files']
  try {
    run = await runAgent({
      role: agentRole,
      prompt: promptFor(job),
      context: contextFrom(matches),
      tools: [...deps.tools, ...(deps.roleTools?.(role) ?? []), ...(workspace?.tools ?? []), ...(deps.jobTools?.(job) ?? [])],
      provider,
      priority: job.spec.priority ?? deps.rolePriority?.(role),
      budget: { ...budget, wallTimeMs: Math.min(budget.wallTimeMs ?? agentRole.budget.wallTimeMs, deps.taskTimeoutMs) },
      ...costCap,
      signal,
      onProgress,
      prices: deps.prices,
      ...(job.gate === undefined ? {} : { spendGate: async (spent: number) => (job.gate as SpendGate)(spent, signal) }),
      traceAttributes: { 'peerflow.task.id': job.spec.id, 'peerflow.swarm': job.spec.swarm, 'peerflow.task.stage': job.assignment.stage, 'peerflow.task.term': job.assignment.term }
    })
  } catch (err) {
    await workspace?.close().catch(() => {})
    return failed(`the agent could not start: ${(err as Error).message}`, false)
  }
  try {
    if (run.status === 'done') files = await workspace?.collect()
  } catch (err) {
    // The work is done but its files cannot be kept here (e.g. the blob store is full): another worker may keep them.
    return failed(`the files the agent wrote could not be kept: ${(err as Error).message}`, true)
  } finally {
    await workspace?.close().catch(() => {})
  }
  const patterns = matches.map((match) => match.pattern.name)
  await recordOutcome(deps, patterns, run)
  return {
    worker: deps.self,
    status: run.status,
    text: clip(run.text, MAX_RESULT_TEXT_CHARS),
    error: run.error === undefined ? null : clip(run.error, 2_000),
    // A budget overrun would recur on any worker: retrying it only spends more.
    retryable: run.status === 'failed' && run.failure !== 'budget',
    role,
    model: run.model ?? null,
    turns: run.turns,
    usage: run.usage,
    costUsd: run.costUsd,
    durationMs: run.durationMs,
    transcript: transcriptSummary(run.transcript),
    patterns,
    finishedAt: Date.now(),
    ...(files === undefined || files.length === 0 ? {} : { files }),
    ...(run.calls.length === 0 ? {} : { calls: run.calls.slice(-64) })
  }
}

/**
 * Feeds the outcome back to the patterns the agent was given. A failure counts against them only
 * when the model actually worked on the task: a missing key or an unreachable endpoint says
 * nothing about the patterns.
 */
export async function recordOutcome (deps: AttemptDeps, patterns: string[], run: AgentRunResult): Promise<void> {
  const bank = deps.patterns()
  if (bank === undefined || patterns.length === 0 || run.status === 'cancelled') return
  if (run.status === 'failed' && run.usage.outputTokens === 0) return
  try {
    await bank.recordOutcome(patterns, run.status === 'done')
  } catch {
    // A pattern forgotten meanwhile must not cost the task its result.
  }
}
