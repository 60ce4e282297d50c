import { InvalidEntryError, NamespaceLimitError } from '../../../crdt/index.ts'
import { isRoleName, ROLE_NAMES, type AgentRole, type AgentTool, type PriceTable, type ProviderConfig } from '../../agents/index.ts'
import { ActivityTracker } from './activity.ts'
import { tasksToClaim } from './claims.ts'
import { assignmentKey, cancelKey, claimKey, decisionKey, isTaskId, newTaskId, taskKey, workerKey } from './keys.ts'
import { applyDependencies } from './dependencies.ts'
import { MAX_SLOT_TTL_MS, MAX_SLOTS, type SlotInfo, type SlotRequest } from './ephemeral-slots.ts'
import { SpendCaps, type BudgetReport, type BudgetScope } from './spend-caps.ts'
import { spentBy } from './spend-ledger.ts'
import { orderPlan, type PlanStep } from './plan.ts'
import { planTool } from './plan-tool.ts'
import { LocalAgents, type AgentInfo } from './local-agents.ts'
import type { AttemptJob } from './attempt-runner.ts'
import { loopResume } from './loop-view.ts'
import type { AttemptWorkspaces, PatternBank, SwarmDirectory, TaskLog, TaskStore } from './ports.ts'
import { RecordIndexer, type RecordIndex } from './record-index.ts'
import {
  LoopSpec, MAX_DEPENDENCIES, MAX_NOTE_CHARS, MAX_PRD_CHARS, MAX_PROMPT_CHARS, MAX_STAGES, TaskBudget, type Cancel, type Claim, type Decision, type TaskSpec, type WorkerInfo
} from './records.ts'
import { planAssignments } from './scheduler.ts'
import type { FileRef } from '../../../protocols/blob.ts'
import type { RoutePriority } from '../../agents/index.ts'
import { TaskError } from './task-error.ts'
import { reportTask, summarizeTask, type TaskReport, type TaskSummary } from './task-report.ts'
import { deriveTask, isTerminal, TASK_STATES, type TaskState, type TaskView } from './task-view.ts'
import { traceAssignment } from './schedule-span.ts'

export interface TaskSettings {
  /** Agents this node runs at once. */
  maxConcurrent: number
  /** Default attempts per stage of a task. */
  maxAttempts: number
  /** Progress heartbeat of running agents. */
  heartbeatMs: number
  /** A running attempt silent for this long (as the leader sees it) moves to another member. */
  workerTimeoutMs: number
  /** Upper bound on any attempt's wall time. */
  taskTimeoutMs: number
  /** ReasoningBank patterns given to each agent as context. */
  patternsInContext: number
  /** How long task records stay in replicated memory. */
  retentionMs: number
  /** Model prices (USD per million tokens) added to or overriding the built-in table. */
  prices?: PriceTable
  /** This node's own daily spend cap in USD. */
  dailyBudgetUsd?: number
}

export interface TaskServiceOptions {
  self: string
  store: TaskStore
  swarms: SwarmDirectory
  patterns: () => PatternBank | undefined
  provider: () => ProviderConfig
  tools: readonly AgentTool[]
  /** Tools only some roles may use, on top of `tools`. */
  roleTools?: (role: string) => readonly AgentTool[]
  /** Each attempt's own directory with the task's files. */
  workspaces?: AttemptWorkspaces
  /** A role's model priority as this node's config sets it, over the role's own. */
  rolePriority?: (role: string) => RoutePriority | undefined
  /** Roles beyond the built-in ones (user-written, shared by members). */
  roles?: (name: string) => AgentRole | undefined
  settings: TaskSettings
  log: TaskLog
  /** Monotonic milliseconds, for liveness. */
  now?: () => number
}

export interface SubmitRequest {
  swarm: string
  prompt: string
  /** One role (single stage), or `stages` for a multi-stage task. */
  role?: string
  stages?: string[]
  maxAttempts?: number
  budget?: TaskBudget
  /** Attached files, already in this node's blob store. */
  files?: FileRef[]
  /** Model priority for every stage, over the roles' own. */
  priority?: RoutePriority
  /** Makes it a loop task (single stage). */
  loop?: LoopRequest
  /** Wait in `input-required` for an approval before starting. */
  approve?: boolean
  /** Stages (0-based, after the first) that wait for an approval of the previous stage's output. */
  approveStages?: number[]
  /** Ids of tasks that must be done first. */
  after?: string[]
}

export interface LoopRequest {
  prd?: string | null
  maxIterations: number
  iterationTimeoutMs: number
  budgetUsd?: number | null
}

export interface ListFilter {
  swarm?: string
  state?: TaskState
}

function approveStagesOf (requested: number[] | undefined, stages: string[]): { approveStages?: number[] } {
  if (requested === undefined || requested.length === 0) return {}
  const unique = [...new Set(requested)].sort((a, b) => a - b)
  for (const stage of unique) {
    if (!Number.isInteger(stage) || stage < 1 || stage >= stages.length) {
      throw new TaskError('invalid', `a stage gate goes before stage 2 to ${stages.length} of this task, not ${Number.isInteger(stage) ? stage + 1 : stage}`)
    }
  }
  return { approveStages: unique }
}

function loopSpecOf (request: LoopRequest, stages: string[], budgetUsd: number | undefined): LoopSpec {
  if (stages.length !== 1) throw new TaskError('invalid', 'a loop task has one stage (one role)')
  if (budgetUsd !== undefined) throw new TaskError('invalid', "a loop's spend cap is loop.budgetUsd, not budget.maxCostUsd")
  const prd = request.prd === undefined || request.prd === null || request.prd.trim() === '' ? null : request.prd
  if (prd !== null && prd.length > MAX_PRD_CHARS) throw new TaskError('invalid', `the PRD is longer than ${MAX_PRD_CHARS} characters`)
  const parsed = LoopSpec.safeParse({ prd, maxIterations: request.maxIterations, iterationTimeoutMs: request.iterationTimeoutMs, budgetUsd: request.budgetUsd ?? null })
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new TaskError('invalid', `invalid loop: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'rejected'}`.trim())
  }
  return parsed.data
}

/**
 * The task layer on one node. Every change to the `tasks` namespace triggers a pass that derives
 * every task's state from its records, then plays this node's parts: worker (run what is assigned
 * here), mesh member (claim queued work), and leader of each swarm it leads (assign, retry, move
 * lost attempts). Passes never overlap, and each awaits its own writes before the next begins.
 */
export class TaskService {
  readonly #options: TaskServiceOptions
  readonly #indexer = new RecordIndexer()
  readonly #activity = new ActivityTracker()
  readonly #agents: LocalAgents
  readonly #caps: SpendCaps
  readonly #now: () => number
  readonly #staleLogged = new Set<string>()
  #views = new Map<string, TaskView>()
  /** Views by task with the entries they were derived from: a task whose entries are the same objects is not derived again. */
  #derived = new Map<string, { sources: readonly object[], view: TaskView }>()
  #unsubscribe: Array<() => void> = []
  #tick: NodeJS.Timeout | undefined
  #dirty = false
  #passing: Promise<void> | undefined
  #stopped = false
  readonly #startedAt = Date.now()
  /** Per swarm this node leads: the term, and when this node first saw itself lead it. */
  readonly #leading = new Map<string, { term: number, since: number }>()

  constructor (options: TaskServiceOptions) {
    this.#options = options
    this.#now = options.now ?? (() => performance.now())
    this.#caps = new SpendCaps({
      self: options.self,
      store: options.store,
      swarms: options.swarms,
      nodeDailyUsd: options.settings.dailyBudgetUsd ?? null,
      // Long enough for a leader change to settle and the new leader to grant.
      grantWaitMs: 2 * options.settings.workerTimeoutMs,
      now: this.#now
    })
    this.#agents = new LocalAgents({
      self: options.self,
      maxConcurrent: options.settings.maxConcurrent,
      heartbeatMs: options.settings.heartbeatMs,
      retentionMs: options.settings.retentionMs,
      store: options.store,
      log: options.log,
      onSlotsChange: () => { void this.#publishCapacity() },
      deps: {
        self: options.self,
        provider: options.provider,
        patterns: options.patterns,
        tools: options.tools,
        roleTools: options.roleTools,
        workspaces: options.workspaces,
        rolePriority: options.rolePriority,
        roles: options.roles,
        patternsInContext: options.settings.patternsInContext,
        taskTimeoutMs: options.settings.taskTimeoutMs,
        prices: options.settings.prices ?? {},
        // Planners may turn their plan into tasks of their own swarm.
        jobTools: (job) => job.spec.stages[job.assignment.stage] === 'planner' ? [planTool(async (steps) => this.submitPlan(job.spec.swarm, steps))] : []
      }
    })
  }

  async start (): Promise<void> {
    await this.#publishCapacity()
    this.#unsubscribe = [
      this.#options.store.onChange(() => { this.#requestPass() }),
      this.#options.swarms.onLeaderChange(() => { this.#requestPass() })
    ]
    this.#agents.start()
    // Liveness is judged on time passing, not only on changes: a dead worker changes nothing.
    this.#tick = setInterval(() => { this.#requestPass() }, Math.min(this.#options.settings.heartbeatMs, 1_000))
    this.#tick.unref()
    this.#requestPass()
  }

  /** Tells leaders how many agents this node runs at once (its own slots and live ephemeral ones). */
  async #publishCapacity (): Promise<void> {
    const info: WorkerInfo = { maxConcurrent: this.#agents.capacity, startedAt: this.#startedAt }
    try {
      await this.#options.store.put(workerKey(this.#options.self), info)
    } catch (err) {
      this.#options.log.warn({ err: (err as Error).message }, 'could not publish agent capacity')
    }
    this.#requestPass()
  }

  /** Runs an ephemeral agent slot here: tasks of `role` in `swarm` for `ttlMs`, within `maxTokens`. */
  spawnAgent (request: SlotRequest): SlotInfo {
    const definition = this.#options.swarms.definition(request.swarm)
    if (definition === undefined) throw new TaskError('invalid', `unknown swarm '${request.swarm}'`)
    if (!definition.members.includes(this.#options.self)) throw new TaskError('invalid', `this node is not a member of swarm '${request.swarm}': join it first`)
    if (!isRoleName(request.role)) throw new TaskError('invalid', `unknown role '${request.role}': expected one of ${ROLE_NAMES.join(', ')}`)
    if (!Number.isInteger(request.ttlMs) || request.ttlMs < 1_000 || request.ttlMs > MAX_SLOT_TTL_MS) throw new TaskError('invalid', 'ttl must be from 1 s to 7 days')
    if (!Number.isInteger(request.maxTokens) || request.maxTokens < 1 || request.maxTokens > 100_000_000) throw new TaskError('invalid', 'maxTokens must be an integer from 1 to 100M')
    if (this.#agents.slots.length >= MAX_SLOTS) throw new TaskError('conflict', `this node already runs ${MAX_SLOTS} ephemeral agents`)
    return this.#agents.spawnSlot(request)
  }

  /** Ephemeral agent slots alive on this node, with the time they have left. */
  slots (): SlotInfo[] {
    return this.#agents.slots
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#tick)
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
    await this.#passing
    await this.#agents.close()
  }

  async submit (request: SubmitRequest): Promise<TaskReport> {
    const spec = this.#specFor(request, newTaskId(), this.#dependenciesOf(request.after ?? [], () => false))
    await this.#write(spec)
    return this.show(spec.id)
  }

  /** Checks a request and builds its spec; `after` is already checked. */
  #specFor (request: SubmitRequest, id: string, after: string[]): TaskSpec {
    const definition = this.#options.swarms.definition(request.swarm)
    if (definition === undefined) {
      const known = this.#options.swarms.definitions().map((d) => d.name)
      throw new TaskError('not-found', `unknown swarm '${request.swarm}'${known.length > 0 ? ` (known: ${known.join(', ')})` : ' (no swarms known on this node)'}`)
    }
    const prompt = request.prompt.trim()
    if (prompt === '') throw new TaskError('invalid', 'the task prompt is empty')
    if (prompt.length > MAX_PROMPT_CHARS) throw new TaskError('invalid', `the task prompt is longer than ${MAX_PROMPT_CHARS} characters`)
    const offered = [...new Set(Object.values(definition.roles).flat())]
    const known = (role: string): boolean => isRoleName(role) || this.#options.roles?.(role) !== undefined
    const stages = request.stages ?? [request.role ?? offered.find(known) ?? 'coder']
    if (stages.length === 0 || stages.length > MAX_STAGES) throw new TaskError('invalid', `a task has 1 to ${MAX_STAGES} stages`)
    for (const role of stages) {
      if (!known(role)) throw new TaskError('invalid', `unknown role '${role}': expected one of ${ROLE_NAMES.join(', ')}, or a role from 'peerflow agent roles'`)
      const able = definition.members.filter((peer) => (definition.roles[peer] ?? []).length === 0 || definition.roles[peer]?.includes(role))
      if (able.length === 0) throw new TaskError('invalid', `no member of swarm '${definition.name}' offers role '${role}' (offered: ${offered.join(', ')})`)
    }
    const maxAttempts = request.maxAttempts ?? this.#options.settings.maxAttempts
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10) throw new TaskError('invalid', 'maxAttempts must be an integer from 1 to 10')
    const budget = TaskBudget.safeParse(request.budget ?? {})
    if (!budget.success) throw new TaskError('invalid', `invalid budget: ${budget.error.issues[0]?.message ?? 'rejected'}`)
    const loop = request.loop === undefined ? undefined : loopSpecOf(request.loop, stages, budget.data.maxCostUsd)
    return {
      id, swarm: definition.name, prompt, stages, maxAttempts, budget: budget.data, submittedBy: this.#options.self, submittedAt: Date.now(),
      ...(loop === undefined ? {} : { loop }),
      ...(request.approve === true ? { approve: true } : {}),
      ...approveStagesOf(request.approveStages, stages),
      ...(after.length === 0 ? {} : { after }),
      ...(request.files === undefined || request.files.length === 0 ? {} : { files: request.files }),
      ...(request.priority === undefined ? {} : { priority: request.priority })
    }
  }

  async #write (spec: TaskSpec): Promise<void> {
    try {
      await this.#options.store.put(taskKey(spec.id), spec, this.#options.settings.retentionMs)
    } catch (err) {
      if (err instanceof NamespaceLimitError || err instanceof InvalidEntryError) throw new TaskError('invalid', `the task cannot be stored: ${err.message}`)
      throw err
    }
  }

  /**
   * Dependencies must be tasks this node knows. A new task cannot be named by any task that exists
   * already, so no cycle can form through here; unknown ids are refused rather than waited for.
   */
  #dependenciesOf (ids: readonly string[], isPlanned: (id: string) => boolean): string[] {
    const unique = [...new Set(ids.map((id) => id.trim()).filter((id) => id !== ''))]
    if (unique.length > MAX_DEPENDENCIES) throw new TaskError('invalid', `a task may wait for at most ${MAX_DEPENDENCIES} tasks`)
    for (const id of unique) {
      if (!isTaskId(id)) throw new TaskError('invalid', `'${id}' in after is not a task id`)
      if (!isPlanned(id) && this.#options.store.list(taskKey(id)).length === 0) throw new TaskError('invalid', `unknown task '${id}' in after (not known on this node)`)
    }
    return unique
  }

  /**
   * Submits a plan's steps as tasks, each waiting for the steps it names. Everything is checked
   * before the first task is written (cycles and unknown names included).
   */
  async submitPlan (swarm: string, steps: readonly PlanStep[]): Promise<Array<{ ref: string, id: string }>> {
    const ordered = orderPlan(steps, (id) => isTaskId(id) && this.#options.store.list(taskKey(id)).length > 0)
    const ids = new Map(ordered.map((step) => [step.ref, newTaskId()]))
    const planned = new Set(ids.values())
    const specs = ordered.map((step) => {
      const after = this.#dependenciesOf((step.after ?? []).map((name) => ids.get(name) ?? name), (id) => planned.has(id))
      const request: SubmitRequest = { swarm, prompt: step.prompt, ...(step.role === undefined ? {} : { role: step.role }), approve: step.approve === true }
      return this.#specFor(request, ids.get(step.ref) as string, after)
    })
    // Dependencies first, so that a replica sees a task only after the tasks it names (one writer's updates apply in order).
    for (const spec of specs) await this.#write(spec)
    return ordered.map((step) => ({ ref: step.ref, id: ids.get(step.ref) as string }))
  }

  /** Records this node's decision at the gate the task has reached (before it starts, or before a gated stage). */
  async decide (id: string, decision: Decision['decision'], note: string | null): Promise<TaskReport> {
    if (note !== null && note.length > MAX_NOTE_CHARS) throw new TaskError('invalid', `the note is longer than ${MAX_NOTE_CHARS} characters`)
    const view = this.#requireView(id)
    if (view.spec.approve !== true && (view.spec.approveStages ?? []).length === 0) throw new TaskError('conflict', `task ${id} does not wait for an approval`)
    if (view.decision !== undefined) throw new TaskError('conflict', `task ${id} was already ${view.decision.decision} by ${view.decision.by}`)
    if (isTerminal(view.state)) throw new TaskError('conflict', `task ${id} is already ${view.state}`)
    if (view.gate === undefined) throw new TaskError('conflict', `task ${id} has not reached its approval gate yet (it is ${view.state})`)
    const record: Decision = { by: this.#options.self, ...(view.gate === 0 ? {} : { stage: view.gate }), decision, note, at: Date.now() }
    await this.#options.store.put(decisionKey(id, this.#options.self, view.gate), record, this.#options.settings.retentionMs)
    return this.show(id)
  }

  /** Derived from the records on this node right now. */
  show (id: string): TaskReport {
    return reportTask(this.#requireView(id))
  }

  list (filter: ListFilter = {}): TaskSummary[] {
    if (filter.state !== undefined && !TASK_STATES.includes(filter.state)) {
      throw new TaskError('invalid', `unknown state '${String(filter.state)}' (one of ${TASK_STATES.join(', ')})`)
    }
    return [...this.#deriveAll(this.#index()).values()]
      .filter((view) => (filter.swarm === undefined || view.spec.swarm === filter.swarm) && (filter.state === undefined || view.state === filter.state))
      .sort((a, b) => b.spec.submittedAt - a.spec.submittedAt || (a.id < b.id ? 1 : -1))
      .map(summarizeTask)
  }

  async cancel (id: string): Promise<TaskReport> {
    const view = this.#requireView(id)
    if (view.state === 'cancelled') return reportTask(view)
    if (isTerminal(view.state)) throw new TaskError('conflict', `task ${id} is already ${view.state}`)
    const cancel: Cancel = { by: this.#options.self, at: Date.now() }
    await this.#options.store.put(cancelKey(id), cancel, this.#options.settings.retentionMs)
    return this.show(id)
  }

  /** Daily caps and what was spent today against them, as this node sees it. */
  budget (): BudgetReport {
    const index = this.#index()
    return this.#caps.report([...this.#deriveAll(index).values()], index)
  }

  /** Sets (or, with null, lifts) a daily cap for a swarm or the whole network. */
  async setBudget (target: BudgetScope, dailyUsd: number | null): Promise<BudgetReport> {
    await this.#caps.set(target, dailyUsd)
    return this.budget()
  }

  /** Agents on this node: running, waiting for a slot, and the latest finished. */
  agents (): AgentInfo[] {
    return this.#agents.list()
  }

  /** For swarm status: agents this node runs for `swarm`; other members' from the tasks they hold. */
  agentsOn (swarm: string, peer: string): number {
    if (peer === this.#options.self) return this.#agents.activeIn(swarm)
    let count = 0
    for (const view of this.#views.values()) {
      const current = view.current
      if (view.spec.swarm === swarm && current?.assignment.worker === peer && current.result === undefined) count++
    }
    return count
  }

  #requireView (id: string): TaskView {
    if (!isTaskId(id)) throw new TaskError('invalid', `'${id}' is not a task id`)
    const records = this.#indexer.index(this.#options.store.list(taskKey(id))).tasks.get(id)
    let view = records === undefined ? undefined : deriveTask(records)
    // Its state depends on other tasks': derive them too.
    if (view?.spec.after !== undefined && view.spec.after.length > 0) view = this.#deriveAll(this.#index()).get(id)
    if (view === undefined) throw new TaskError('not-found', `no task '${id}' on this node (it may not have replicated here yet, or its swarm is one this node is not a member of and does not replicate)`)
    return view
  }

  #index (): RecordIndex {
    return this.#indexer.index(this.#options.store.list())
  }

  #deriveAll (index: RecordIndex): Map<string, TaskView> {
    const views = new Map<string, TaskView>()
    const derived = new Map<string, { sources: readonly object[], view: TaskView }>()
    for (const records of index.tasks.values()) {
      const previous = this.#derived.get(records.id)
      const unchanged = previous !== undefined && previous.sources.length === records.sources.length &&
        previous.sources.every((source, i) => source === records.sources[i])
      const view = unchanged ? previous.view : deriveTask(records)
      if (view === undefined) continue
      views.set(view.id, view)
      derived.set(view.id, { sources: records.sources, view })
    }
    this.#derived = derived
    return applyDependencies(views)
  }

  #leadingForMs (swarm: string, term: number, now: number): number {
    let seen = this.#leading.get(swarm)
    if (seen?.term !== term) {
      seen = { term, since: now }
      this.#leading.set(swarm, seen)
    }
    return now - seen.since
  }

  #requestPass (): void {
    if (this.#stopped) return
    this.#dirty = true
    this.#passing ??= this.#runPasses()
  }

  async #runPasses (): Promise<void> {
    try {
      // Let a burst of changes (one gossip message, one batch of writes) land before looking.
      await new Promise((resolve) => setImmediate(resolve))
      while (this.#dirty && !this.#stopped) {
        this.#dirty = false
        try {
          await this.#pass()
        } catch (err) {
          this.#options.log.warn({ err: (err as Error).message }, 'task scheduling pass failed')
        }
      }
    } finally {
      // In the same step as the last check of #dirty: a change arriving now starts a new run.
      this.#passing = undefined
    }
  }

  async #pass (): Promise<void> {
    const index = this.#index()
    const views = this.#deriveAll(index)
    this.#views = views
    this.#caps.observe(index, [...views.values()])
    const now = this.#now()
    this.#activity.observe(views.values(), now)
    this.#superviseLocalAgents(views)
    this.#acceptAssignments(views)
    await Promise.all([...this.#claimMeshWork(views), ...this.#schedule(views, index, now)])
  }

  /** Stops local agents whose attempt is no longer the one in force, or whose task was cancelled. */
  #superviseLocalAgents (views: Map<string, TaskView>): void {
    this.#agents.forgetEnded((taskId, attemptId) => {
      const current = views.get(taskId)?.current
      return current?.id === attemptId && current.result === undefined
    })
    for (const agent of this.#agents.list()) {
      if (agent.state !== 'waiting' && agent.state !== 'running') continue
      const view = views.get(agent.task)
      if (view === undefined) continue
      if (view.cancel !== undefined) this.#agents.stop(agent.task, agent.attempt, 'cancelled')
      else if (view.current?.id !== agent.attempt) this.#agents.stop(agent.task, agent.attempt, 'superseded')
    }
  }

  /** Worker side: runs each attempt in force that is assigned here, unless a newer leader has spoken. */
  #acceptAssignments (views: Map<string, TaskView>): void {
    const self = this.#options.self
    for (const view of views.values()) {
      const current = view.current
      if (current === undefined || current.assignment.worker !== self || current.result !== undefined || isTerminal(view.state)) continue
      if (this.#agents.hasTaken(view.id, current.id)) continue
      const seat = this.#options.swarms.seat(view.spec.swarm)
      if (seat === undefined) continue
      if (seat.isStale(current.assignment.term)) {
        const key = `${view.id}/${current.id}`
        if (!this.#staleLogged.has(key)) {
          this.#staleLogged.add(key)
          this.#options.log.info({ task: view.id, attempt: current.id, term: current.assignment.term, current: seat.term }, 'ignoring an assignment from a stale leader')
        }
        continue
      }
      let input: AttemptJob['input'] = null
      if (current.assignment.inputFrom !== null) {
        const previous = view.attempts.find((attempt) => attempt.id === current.assignment.inputFrom)
        // The previous stage's result may still be on its way here: wait for it.
        if (previous?.result === undefined) continue
        input = { role: previous.result.role, text: previous.result.text, ...(previous.result.files === undefined ? {} : { files: previous.result.files, worker: previous.result.worker }) }
      }
      const resume = view.spec.loop === undefined ? {} : { resume: loopResume(view.attempts) }
      let spentBeforeUsd = 0
      for (const attempt of view.attempts) if (attempt !== current) spentBeforeUsd += spentBy(attempt)
      const gate = async (spentUsd: number, signal: AbortSignal): Promise<number> => this.#caps.gate(view.id, current.id, view.spec.swarm, spentUsd, signal)
      this.#agents.accept({ spec: view.spec, assignment: current.assignment, input, gate, spentBeforeUsd, ...resume }, current.ref, current.id)
    }
  }

  /** Mesh member side: claims queued tasks up to this node's free slots. */
  #claimMeshWork (views: Map<string, TaskView>): Array<Promise<void>> {
    const self = this.#options.self
    const writes: Array<Promise<void>> = []
    let free = this.#agents.capacity - this.#agents.activeCount
    for (const definition of this.#options.swarms.definitions()) {
      if (definition.topology !== 'mesh' || !definition.members.includes(self) || free <= 0) continue
      const queued = [...views.values()]
        .filter((view) => view.spec.swarm === definition.name && view.state === 'submitted')
        .sort((a, b) => a.spec.submittedAt - b.spec.submittedAt || (a.id < b.id ? -1 : 1))
      const chosen = tasksToClaim({ self, roles: definition.roles[self] ?? [], queued, freeSlots: free })
      free -= chosen.length
      for (const view of chosen) {
        const claim: Claim = { after: view.next?.after ?? null, at: Date.now() }
        writes.push(this.#options.store.put(claimKey(view.id, self), claim, this.#options.settings.retentionMs))
      }
    }
    return writes
  }

  /** Leader side, for every swarm this node leads. */
  #schedule (views: Map<string, TaskView>, index: RecordIndex, now: number): Array<Promise<void>> {
    const { self, swarms, settings, store } = this.#options
    const writes: Array<Promise<void>> = []
    const all = [...views.values()]
    const capacities = new Map([...index.workers].map(([peer, info]) => [peer, info.maxConcurrent]))
    // Asked for every candidate of every task: look each peer up once per pass.
    const connected = new Map<string, boolean>()
    const alive = (peer: string): boolean => {
      if (peer === self) return true
      let known = connected.get(peer)
      if (known === undefined) {
        known = swarms.isConnected(peer)
        connected.set(peer, known)
      }
      return known
    }
    for (const definition of swarms.definitions()) {
      const seat = swarms.seat(definition.name)
      if (seat?.role !== 'leader') continue
      const decisions = planAssignments({
        swarm: definition,
        leader: self,
        term: seat.term,
        views: all,
        capacities,
        alive,
        silentForMs: (task, attempt) => this.#activity.silentForMs(task, attempt, now),
        claimSeenAt: (task, peer, claim) => this.#activity.claimSeenAt(task, peer, claim, now),
        timing: { workerTimeoutMs: settings.workerTimeoutMs, graceMs: 2 * settings.heartbeatMs, settleMs: 2 * settings.heartbeatMs },
        leadingForMs: this.#leadingForMs(definition.name, seat.term, now),
        now: Date.now()
      })
      for (const { task, assignment } of decisions) {
        if (assignment.reason === 'reassigned' || assignment.reason === 'abandoned') {
          this.#options.log.info({ task, swarm: definition.name, worker: assignment.worker, reason: assignment.reason, error: assignment.error }, 'moving a task off a lost worker')
        }
        writes.push(traceAssignment(definition.name, task, assignment, store.put(assignmentKey(task, assignment), assignment, settings.retentionMs)))
      }
      writes.push(...this.#caps.grantsFor(definition.name, seat.term))
    }
    return writes
  }
}
