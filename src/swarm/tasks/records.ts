import { z } from 'zod'
import { FileRef } from '../../../protocols/blob.ts'
import { ROUTE_PRIORITIES } from '../../agents/route-table.ts'

/**
 * What the task layer stores in replicated memory. Every record has exactly one writer (see
 * README.md): the submitter writes the spec, the leader of a term writes that term's assignments,
 * the assigned worker writes its attempt's progress and result, each member its own claims.
 */

export const MAX_PROMPT_CHARS = 16_000
export const MAX_STAGES = 8
/** Results are replicated to every node: keep a record well under the namespace's value cap (64 KiB by default). */
export const MAX_RESULT_TEXT_CHARS = 16_000
/** Files attached to a task, or produced by one attempt: the records hold their hashes, blob stores the bytes. */
export const MAX_TASK_FILES = 32

const peer = z.string().min(1).max(128)
const role = z.string().min(1).max(64)
const count = z.number().int().min(0)

export const TaskBudget = z.object({
  maxTurns: z.number().int().min(1).max(100).optional(),
  maxTokens: z.number().int().min(1).max(10_000_000).optional(),
  wallTimeMs: z.number().int().min(100).max(24 * 3_600_000).optional(),
  /** USD the task may spend over all its attempts (loop tasks use `loop.budgetUsd`). */
  maxCostUsd: z.number().min(0).max(1_000_000).optional()
}).strict()
export type TaskBudget = z.infer<typeof TaskBudget>

export const MAX_DEPENDENCIES = 32
export const MAX_NOTE_CHARS = 2_000
export const MAX_PRD_CHARS = 24_000
export const MAX_CHECKPOINT_CHARS = 4_000
export const MAX_LOOP_ITERATIONS = 1_000

/**
 * A loop task runs its prompt again and again (each iteration a fresh agent run fed the PRD and
 * the previous checkpoint) until the agent declares the work complete or a limit is reached.
 */
export const LoopSpec = z.object({
  prd: z.string().max(MAX_PRD_CHARS).nullable(),
  maxIterations: z.number().int().min(1).max(MAX_LOOP_ITERATIONS),
  iterationTimeoutMs: z.number().int().min(1_000).max(24 * 3_600_000),
  /** Spend cap for the whole loop, over every attempt. */
  budgetUsd: z.number().min(0).max(1_000_000).nullable()
}).strict()
export type LoopSpec = z.infer<typeof LoopSpec>

/** Written once by the submitter. A single-stage task has one role in `stages`. */
export const TaskSpec = z.object({
  id: z.string().min(1).max(64),
  swarm: z.string().min(1).max(48),
  prompt: z.string().min(1).max(MAX_PROMPT_CHARS),
  stages: z.array(role).min(1).max(MAX_STAGES),
  /** Attempts allowed per stage, retries and reassignments included. */
  maxAttempts: z.number().int().min(1).max(10),
  budget: TaskBudget,
  submittedBy: peer,
  submittedAt: z.number(),
  /** Attached files, put in each attempt's workspace; the submitter's node holds their bytes. */
  files: z.array(FileRef).max(MAX_TASK_FILES).optional(),
  /** The model priority every stage asks for, over the role's. */
  priority: z.enum(ROUTE_PRIORITIES).optional(),
  /** Present for loop tasks (single stage only). */
  loop: LoopSpec.optional(),
  /** The task waits in `input-required` until someone approves it (or rejects it). */
  approve: z.boolean().optional(),
  /** Stages (0-based, after the first) that wait for an approval of the previous stage's output. */
  approveStages: z.array(z.number().int().min(1).max(MAX_STAGES - 1)).max(MAX_STAGES).optional(),
  /** Tasks that must be done before this one starts; one of them failing fails this one. */
  after: z.array(z.string().min(1).max(64)).max(MAX_DEPENDENCIES).optional()
})
export type TaskSpec = z.infer<typeof TaskSpec>

export const LOOP_STOP_REASONS = ['completed', 'max-iterations', 'budget', 'repeated-failures'] as const
export type LoopStopReason = typeof LOOP_STOP_REASONS[number]

const ASSIGNMENT_REASONS = ['scheduled', 'claimed', 'retry', 'reassigned', 'next-stage', 'abandoned'] as const

/**
 * Written once by the leader of `term`; `n` numbers attempts within the task. `worker: null` is the
 * leader giving the task up (`error` says why).
 */
export const Assignment = z.object({
  term: count,
  n: z.number().int().min(1),
  stage: count,
  worker: peer.nullable(),
  /** The attempt whose result is this stage's input (null for the first stage). */
  inputFrom: z.string().max(64).nullable(),
  reason: z.enum(ASSIGNMENT_REASONS),
  leader: peer,
  at: z.number(),
  error: z.string().max(2_000).optional()
})
export type Assignment = z.infer<typeof Assignment>

/** Rewritten by the assigned worker on every step and heartbeat; `seq` grows with each write. */
export const Progress = z.object({
  worker: peer,
  state: z.enum(['waiting', 'running']),
  seq: count,
  turn: count,
  maxTurns: count,
  tokens: count,
  costUsd: z.number().min(0),
  model: z.string().max(128).nullable(),
  startedAt: z.number(),
  heartbeatAt: z.number(),
  /** Loop tasks: the iteration running now. */
  iteration: z.number().int().min(1).optional()
})
export type Progress = z.infer<typeof Progress>

export const TranscriptLine = z.object({
  turn: count,
  role: z.enum(['user', 'assistant', 'tool']),
  text: z.string().max(300),
  detail: z.string().max(120).optional()
})
export type TranscriptLine = z.infer<typeof TranscriptLine>

/** Written once by the assigned worker when its attempt ends. */
export const Result = z.object({
  worker: peer,
  status: z.enum(['done', 'failed', 'cancelled']),
  text: z.string().max(MAX_RESULT_TEXT_CHARS),
  error: z.string().max(2_000).nullable(),
  /** False when another attempt would fail the same way (e.g. the budget is too small). */
  retryable: z.boolean(),
  role,
  model: z.string().max(128).nullable(),
  turns: count,
  usage: z.object({ inputTokens: count, outputTokens: count }),
  costUsd: z.number().min(0),
  durationMs: count,
  transcript: z.array(TranscriptLine).max(24),
  /** ReasoningBank patterns given to the agent as context. */
  patterns: z.array(z.string().max(256)).max(20),
  finishedAt: z.number(),
  /** Files the agent wrote in its workspace; the worker's node holds their bytes. */
  files: z.array(FileRef).max(MAX_TASK_FILES).optional(),
  /** Each model call that answered: where, which model, tokens and cost (the latest 64). */
  calls: z.array(z.object({
    turn: count, endpoint: z.string().max(64), model: z.string().max(128), inputTokens: count, outputTokens: count, costUsd: z.number().min(0)
  })).max(64).optional(),
  /** Loop tasks: why the loop ended (when this attempt ended it). */
  stopReason: z.enum(LOOP_STOP_REASONS).optional()
})
export type Result = z.infer<typeof Result>

/**
 * Loop tasks: one finished iteration, written once by the worker of the attempt that ran it,
 * before the next iteration starts. The checkpoint is what the next iteration starts from.
 */
export const Iteration = z.object({
  worker: peer,
  iteration: z.number().int().min(1).max(MAX_LOOP_ITERATIONS),
  checkpoint: z.string().max(MAX_CHECKPOINT_CHARS),
  /** The agent declared the work complete. */
  complete: z.boolean(),
  tokens: count,
  costUsd: z.number().min(0),
  model: z.string().max(128).nullable(),
  startedAt: z.number(),
  finishedAt: z.number(),
  /** A repeat of the iteration an earlier attempt had in flight when it was lost. */
  repeatOf: z.string().max(64).optional()
})
export type Iteration = z.infer<typeof Iteration>

/** Mesh topology: a member asks for a queued task; `after` names the attempt in force when it asked. */
export const Claim = z.object({
  after: z.string().max(64).nullable(),
  at: z.number()
})
export type Claim = z.infer<typeof Claim>

/** An approval gate's decision, one record per deciding node; the earliest decision stands (see task-view.ts). */
export const Decision = z.object({
  by: peer,
  /** The gate decided: 0 before the task starts, n before stage n (0-based). */
  stage: z.number().int().min(0).max(MAX_STAGES - 1).optional(),
  decision: z.enum(['approved', 'rejected']),
  note: z.string().max(MAX_NOTE_CHARS).nullable(),
  at: z.number()
})
export type Decision = z.infer<typeof Decision>

export const Cancel = z.object({
  by: peer,
  at: z.number()
})
export type Cancel = z.infer<typeof Cancel>

/** Each node publishes how many agents it runs at once, so leaders know its capacity. */
export const WorkerInfo = z.object({
  maxConcurrent: z.number().int().min(0).max(1_000),
  startedAt: z.number()
})
export type WorkerInfo = z.infer<typeof WorkerInfo>

/**
 * Spend allotment: the leader of `term` lets the worker of one attempt spend `usd` more (or, with
 * `exhausted`, tells it the swarm's cap is spent). Written once by that leader.
 */
export const Grant = z.object({
  leader: peer,
  term: count,
  seq: z.number().int().min(1),
  swarm: z.string().min(1).max(48),
  task: z.string().min(1).max(64),
  attempt: z.string().min(1).max(64),
  worker: peer,
  usd: z.number().min(0).max(1_000_000),
  /** UTC day (YYYY-MM-DD) whose cap it counts against. */
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  at: z.number(),
  exhausted: z.string().max(500).nullable()
})
export type Grant = z.infer<typeof Grant>

/** A daily spend cap for a swarm or the whole network, one record per node that set it; the latest stands. */
export const BudgetSetting = z.object({
  dailyUsd: z.number().min(0).max(1_000_000).nullable(),
  by: peer,
  at: z.number()
})
export type BudgetSetting = z.infer<typeof BudgetSetting>
