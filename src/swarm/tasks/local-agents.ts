import { getRole, isRoleName } from '../../agents/index.ts'
import { runAttempt, type AttemptDeps, type AttemptJob, type AttemptStatus } from './attempt-runner.ts'
import { iterationKey, progressKey, resultKey, type AttemptRef } from './keys.ts'
import { EphemeralSlots, type SlotInfo, type SlotRequest } from './ephemeral-slots.ts'
import { runLoopAttempt } from './loop-runner.ts'
import type { TaskLog, TaskStore } from './ports.ts'
import type { Iteration, Progress, Result } from './records.ts'

/**
 * The agents this node runs for its assignments: at most `maxConcurrent` at once, the rest waiting
 * in arrival order. Each writes its attempt's progress (on every turn and every heartbeat) and, at
 * the end, its result — the only records this node writes for an attempt.
 */

export interface LocalAgentsOptions {
  self: string
  maxConcurrent: number
  heartbeatMs: number
  /** Lifetime of the records written (progress, results). */
  retentionMs: number
  store: TaskStore
  deps: AttemptDeps
  log: TaskLog
  /** Called when ephemeral slots come or go (this node's published capacity changes). */
  onSlotsChange?: () => void
}

export type AgentState = 'waiting' | 'running' | 'done' | 'failed' | 'cancelled'

export interface AgentInfo {
  task: string
  attempt: string
  swarm: string
  role: string
  stage: number
  state: AgentState
  model: string | null
  turn: number
  maxTurns: number
  tokens: number
  costUsd: number
  /** Loop tasks: the iteration running or last run here. */
  iteration: number | null
  acceptedAt: number
  startedAt: number | null
  finishedAt: number | null
  error: string | null
}

/** Why a run was stopped from outside: decides what, if anything, it records. */
type StopReason = 'superseded' | 'cancelled' | 'node-stopping' | 'slot-ended'

interface Run {
  job: AttemptJob
  ref: AttemptRef
  info: AgentInfo
  controller: AbortController
  stopReason?: StopReason
  /** The ephemeral slot it runs in, if not one of the node's own. */
  slot?: string
  slotEnd?: string
  seq: number
  lastWrittenAt: number
}

const FINISHED_KEPT = 50
/**
 * Turn-by-turn progress is written at most this often: every write is replicated to every node,
 * and the heartbeat carries whatever a skipped write would have said.
 */
const PROGRESS_MIN_INTERVAL_MS = 250
const SHORTENED_TEXT_CHARS = 4_000

export class LocalAgents {
  readonly #options: LocalAgentsOptions
  readonly #active = new Map<string, Run>()
  /**
   * Attempts that ended here but whose result this node's view may not show yet (the write is
   * still in the store's queue): never started twice. Forgotten once the view has moved on.
   */
  readonly #ended = new Set<string>()
  readonly #waiting: Run[] = []
  readonly #finished: AgentInfo[] = []
  readonly #running = new Set<Promise<void>>()
  readonly #slots: EphemeralSlots
  #heartbeat: NodeJS.Timeout | undefined
  #stopped = false

  constructor (options: LocalAgentsOptions) {
    this.#options = options
    this.#slots = new EphemeralSlots((slot, why) => { this.#slotEnded(slot, why) })
  }

  /** Ephemeral agent slots alive on this node. */
  get slots (): SlotInfo[] {
    return this.#slots.list()
  }

  /** Agent slots this node offers: its own and the ephemeral ones. */
  get capacity (): number {
    return this.#options.maxConcurrent + this.#slots.size
  }

  spawnSlot (request: SlotRequest): SlotInfo {
    const slot = this.#slots.spawn(request)
    this.#options.log.info({ slot: slot.id, swarm: slot.swarm, role: slot.role, ttlMs: slot.ttlMs, maxTokens: slot.maxTokens }, 'ephemeral agent spawned')
    this.#options.onSlotsChange?.()
    this.#pump()
    return slot
  }

  #slotEnded (slot: SlotInfo, why: string): void {
    this.#options.log.info({ slot: slot.id, why }, 'ephemeral agent ended')
    for (const run of this.#active.values()) {
      if (run.slot !== slot.id || run.stopReason !== undefined) continue
      run.stopReason = 'slot-ended'
      run.slotEnd = why
      run.controller.abort(new Error(`ephemeral agent ended: ${why}`))
    }
    this.#options.onSlotsChange?.()
  }

  start (): void {
    this.#heartbeat = setInterval(() => {
      for (const run of this.#active.values()) this.#writeProgress(run, true)
    }, this.#options.heartbeatMs)
    this.#heartbeat.unref()
  }

  /** Every agent still going, and the latest finished ones. */
  list (): AgentInfo[] {
    return [...[...this.#active.values()].map((run) => ({ ...run.info })), ...this.#finished.map((info) => ({ ...info }))]
  }

  /** Waiting and running agents (what counts against `maxConcurrent`). */
  get activeCount (): number {
    return this.#active.size
  }

  activeIn (swarm: string): number {
    let count = 0
    for (const run of this.#active.values()) if (run.job.spec.swarm === swarm) count++
    return count
  }

  /** Whether this node has taken the attempt already (running, waiting, or ended). */
  hasTaken (taskId: string, attemptId: string): boolean {
    const key = `${taskId}/${attemptId}`
    return this.#active.has(key) || this.#ended.has(key)
  }

  /** Drops the memory of ended attempts that `stillOpen` no longer reports open here. */
  forgetEnded (stillOpen: (taskId: string, attemptId: string) => boolean): void {
    for (const key of this.#ended) {
      const [taskId = '', attemptId = ''] = key.split('/')
      if (!stillOpen(taskId, attemptId)) this.#ended.delete(key)
    }
  }

  /** Takes an assignment: queued at once (progress says so), run when a slot frees. */
  accept (job: AttemptJob, ref: AttemptRef, attemptId: string): void {
    if (this.#stopped) return
    const key = `${job.spec.id}/${attemptId}`
    if (this.hasTaken(job.spec.id, attemptId)) return
    const now = Date.now()
    const run: Run = {
      job,
      ref,
      controller: new AbortController(),
      seq: 0,
      lastWrittenAt: 0,
      info: {
        task: job.spec.id, attempt: attemptId, swarm: job.spec.swarm, role: job.spec.stages[job.assignment.stage] ?? '?', stage: job.assignment.stage,
        state: 'waiting', model: null, turn: 0, maxTurns: 0, tokens: 0, costUsd: 0, iteration: null, acceptedAt: now, startedAt: null, finishedAt: null, error: null
      }
    }
    this.#active.set(key, run)
    this.#waiting.push(run)
    this.#pump()
    // Started at once, it has already said so; otherwise the worker acknowledges it is queued.
    if (run.info.state === 'waiting') this.#writeProgress(run, true)
  }

  /** Stops the run of an attempt that is no longer in force or whose task was cancelled. */
  stop (taskId: string, attemptId: string, reason: 'superseded' | 'cancelled'): void {
    const run = this.#active.get(`${taskId}/${attemptId}`)
    if (run === undefined || run.stopReason !== undefined) return
    run.stopReason = reason
    run.controller.abort(new Error(reason === 'cancelled' ? 'task cancelled' : 'attempt superseded'))
    const waitingAt = this.#waiting.indexOf(run)
    if (waitingAt !== -1) {
      this.#waiting.splice(waitingAt, 1)
      this.#finish(run, reason === 'cancelled' ? 'cancelled' : 'failed', reason === 'cancelled' ? 'task cancelled' : 'attempt superseded before it started')
      if (reason === 'cancelled') void this.#writeResult(run, this.#emptyResult(run, 'cancelled', 'cancelled before the agent started', false))
    }
  }

  /** Aborts every agent; each records a retryable failure so the leader moves its task at once. */
  async close (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#heartbeat)
    this.#slots.close()
    const waiting = this.#waiting.splice(0)
    for (const run of this.#active.values()) {
      run.stopReason ??= 'node-stopping'
      run.controller.abort(new Error('node stopping'))
    }
    const writes = waiting.map(async (run) => {
      this.#finish(run, 'failed', 'node stopped')
      await this.#writeResult(run, this.#emptyResult(run, 'failed', 'the worker node stopped before the attempt started', true))
    })
    await Promise.allSettled([...this.#running, ...writes])
  }

  /** Starts waiting runs in arrival order: in the node's own slots while free, else in an idle ephemeral slot of their swarm and role. */
  #pump (): void {
    let ownRunning = 0
    for (const active of this.#active.values()) if (active.slot === undefined && active.info.state === 'running') ownRunning++
    for (let i = 0; !this.#stopped && i < this.#waiting.length;) {
      const run = this.#waiting[i] as Run
      if (ownRunning < this.#options.maxConcurrent) {
        ownRunning++
      } else {
        if (this.#slots.size === 0) break
        const slot = this.#slots.claim(run.job.spec.swarm, run.info.role, run.job.spec.id)
        if (slot === undefined) {
          i++
          continue
        }
        run.slot = slot.id
      }
      this.#waiting.splice(i, 1)
      const running = this.#execute(run).finally(() => {
        this.#running.delete(running)
        this.#pump()
      })
      this.#running.add(running)
    }
  }

  async #execute (run: Run): Promise<void> {
    run.info.state = 'running'
    run.info.startedAt = Date.now()
    this.#writeProgress(run, true)
    const onStatus = (status: AttemptStatus): void => {
      const iterationChanged = status.iteration !== undefined && status.iteration !== run.info.iteration
      Object.assign(run.info, status)
      this.#writeProgress(run, iterationChanged)
    }
    const job = run.slot === undefined ? run.job : this.#withinSlot(run.job, run.info.role, run.slot)
    const result = job.spec.loop === undefined
      ? await runAttempt(job, this.#options.deps, run.controller.signal, onStatus)
      : await runLoopAttempt(job, this.#options.deps, run.controller.signal, onStatus, async (iteration) => { await this.#writeIteration(run, iteration) })
    if (run.slot !== undefined) {
      // The slot's own token budget running out is no reason to give the task up: another agent can go on.
      if (result.status === 'failed' && job !== run.job && /^budget exceeded: max tokens/.test(result.error ?? '')) result.retryable = true
      this.#slots.release(run.slot, result.usage.inputTokens + result.usage.outputTokens)
    }
    const reason = run.stopReason
    if (reason === 'slot-ended') {
      this.#finish(run, 'failed', `ephemeral agent ended: ${run.slotEnd ?? ''}`)
      await this.#writeResult(run, { ...result, status: 'failed', error: `the ephemeral agent running it ended (${run.slotEnd ?? 'expired'})`, retryable: true })
      return
    }
    if (reason === 'superseded') {
      this.#finish(run, 'failed', 'attempt superseded (the leader gave the task to another member)')
      return
    }
    if (reason === 'node-stopping' && result.status === 'cancelled') {
      this.#finish(run, 'failed', 'node stopped')
      await this.#writeResult(run, { ...result, status: 'failed', error: 'the worker node stopped during the attempt', retryable: true })
      return
    }
    this.#finish(run, result.status, result.error)
    await this.#writeResult(run, result)
  }

  /** The job with its token budget lowered to what the slot has left, when that is less (the same job otherwise). */
  #withinSlot (job: AttemptJob, role: string, slot: string): AttemptJob {
    const left = this.#slots.tokensLeft(slot)
    const own = job.spec.budget.maxTokens ?? (isRoleName(role) ? getRole(role).budget.maxTokens : Number.POSITIVE_INFINITY)
    if (left >= own) return job
    return { ...job, spec: { ...job.spec, budget: { ...job.spec.budget, maxTokens: Math.max(1, left) } } }
  }

  #finish (run: Run, state: AgentState, error: string | null): void {
    run.info.state = state
    run.info.error = error
    run.info.finishedAt = Date.now()
    const key = `${run.job.spec.id}/${run.info.attempt}`
    this.#active.delete(key)
    this.#ended.add(key)
    this.#finished.unshift({ ...run.info })
    this.#finished.length = Math.min(this.#finished.length, FINISHED_KEPT)
  }

  #emptyResult (run: Run, status: Result['status'], error: string, retryable: boolean): Result {
    return {
      worker: this.#options.self, status, text: '', error, retryable, role: run.info.role, model: null, turns: 0,
      usage: { inputTokens: 0, outputTokens: 0 }, costUsd: 0, durationMs: 0, transcript: [], patterns: [], finishedAt: Date.now()
    }
  }

  /** `force` for state changes and heartbeats; turn updates are throttled. */
  #writeProgress (run: Run, force: boolean): void {
    const now = Date.now()
    if (!force && now - run.lastWrittenAt < PROGRESS_MIN_INTERVAL_MS) return
    run.lastWrittenAt = now
    const progress: Progress = {
      worker: this.#options.self,
      state: run.info.state === 'running' ? 'running' : 'waiting',
      seq: run.seq++,
      turn: run.info.turn,
      maxTurns: run.info.maxTurns,
      tokens: run.info.tokens,
      costUsd: run.info.costUsd,
      model: run.info.model,
      startedAt: run.info.startedAt ?? run.info.acceptedAt,
      heartbeatAt: now,
      ...(run.info.iteration === null ? {} : { iteration: run.info.iteration })
    }
    this.#options.store.put(progressKey(run.job.spec.id, run.ref), progress, this.#options.retentionMs).catch((err: Error) => {
      this.#options.log.warn({ task: run.job.spec.id, err: err.message }, 'could not record task progress')
    })
  }

  async #writeIteration (run: Run, iteration: Iteration): Promise<void> {
    await this.#options.store.put(iterationKey(run.job.spec.id, run.ref, iteration.iteration), iteration, this.#options.retentionMs)
    this.#options.log.info({ task: run.job.spec.id, attempt: run.info.attempt, iteration: iteration.iteration, complete: iteration.complete }, 'loop iteration recorded')
  }

  async #writeResult (run: Run, result: Result): Promise<void> {
    const key = resultKey(run.job.spec.id, run.ref)
    try {
      await this.#options.store.put(key, result, this.#options.retentionMs)
    } catch (err) {
      // Most likely over the namespace's value cap (multi-byte text): keep the outcome, shorten the rest.
      this.#options.log.warn({ task: run.job.spec.id, err: (err as Error).message }, 'task result not stored whole; storing it shortened')
      const text = `${result.text.slice(0, SHORTENED_TEXT_CHARS)}\n[shortened: the full result did not fit in replicated memory]`
      try {
        await this.#options.store.put(key, { ...result, text, transcript: [] }, this.#options.retentionMs)
      } catch (again) {
        this.#options.log.warn({ task: run.job.spec.id, err: (again as Error).message }, 'could not record a task result')
        return
      }
    }
    this.#options.log.info({ task: run.job.spec.id, attempt: run.info.attempt, status: result.status, error: result.error }, 'task attempt ended')
  }
}
