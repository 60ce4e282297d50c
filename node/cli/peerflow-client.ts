import { PeerflowError } from '../../crdt/peerflow-error.ts'
import type {
  AgentListReply, AgentRolesReply, AgentSpawnRequest, AllowListReply, BudgetReport, BudgetSetRequest, AllowReply, BlockListReply, BlockReply, DisallowReply, Entry, EntryReply, IdReply, JoinReply,
  JsonValue, LeaveReply, MemoryBatchReply, MemoryBatchRequest, MemoryDeleteReply, MemoryListReply, NamespacesReply, Overview, PatternConsolidateReply, PatternForgetReply,
  PatternListQuery, PatternListReply, PatternOutcomeReply, PatternQueryReply, PatternReply, PatternStatsReply, PatternStoreRequest,
  PeersReply, StatusReply, SwarmEventsReply, SwarmInitRequest, SwarmListReply, SwarmStatus, TaskListQuery, TaskListReply, TaskReport,
  ModelsReport, RoleListing, SlotInfo, TaskSubmitRequest, ToolCatalog, UnblockReply
} from '../api/types.ts'
import { ApiClient } from './client.ts'

export const TERMINAL_TASK_STATES: ReadonlySet<string> = new Set(['done', 'failed', 'cancelled'])

export interface ConnectOptions {
  /** Bearer token of a control API bound beyond loopback (its data dir's api.token). */
  token?: string
}

export interface MemoryPutOptions { ttlMs?: number, tags?: string[] }

export interface PatternQuery {
  question: string
  namespace?: string
  minConfidence?: number
  limit?: number
  explain?: boolean
}

export interface WatchOptions {
  /** How often the task is read (default 250 ms). */
  intervalMs?: number
  signal?: AbortSignal
}

export interface WaitOptions extends WatchOptions {
  /** Give up after this long with a 'timeout' error (default: wait as long as it takes). */
  timeoutMs?: number
}

/** What `tasks.watch` yields: the task each time its state, stage, attempt or progress changed. */
export type TaskEvent = TaskReport

const LONG_CALL_MS = 60_000

function segment (text: string): string {
  return encodeURIComponent(text)
}

function sleep (ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) { reject(new PeerflowError('timeout', 'stopped watching: aborted')); return }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(new PeerflowError('timeout', 'stopped watching: aborted')) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** What changes between two reads that someone watching a task wants to hear about. */
function fingerprint (task: TaskReport): string {
  return JSON.stringify([task.state, task.stage, task.attempts, task.assignee, task.progress?.state, task.progress?.turn, task.progress?.tokens])
}

/**
 * A typed client of a running node's control API, grouped the way the CLI is: memory, tasks,
 * patterns, swarms, peers, status. Every failure is a PeerflowError whose `kind` comes from the
 * reply's HTTP status (ApiError, with `status`) or from the connection (unreachable, timeout).
 */
export class PeerflowClient {
  readonly api: ApiClient

  constructor (address?: string, options: ConnectOptions = {}) {
    this.api = new ApiClient(address, options.token)
  }

  get address (): string {
    return this.api.address
  }

  async status (): Promise<StatusReply> {
    return this.api.request('GET', '/status')
  }

  async id (): Promise<IdReply> {
    return this.api.request('GET', '/id')
  }

  async overview (): Promise<Overview> {
    return this.api.request('GET', '/overview')
  }

  readonly peers = {
    list: async (): Promise<PeersReply> => this.api.request('GET', '/peers'),
    join: async (multiaddr: string): Promise<JoinReply> => this.api.request('POST', '/join', { body: { multiaddr }, timeoutMs: LONG_CALL_MS }),
    leave: async (peerId: string): Promise<LeaveReply> => this.api.request('POST', '/leave', { body: { peerId } }),
    block: async (peerId: string): Promise<BlockReply> => this.api.request('POST', '/block', { body: { peerId } }),
    unblock: async (peerId: string): Promise<UnblockReply> => this.api.request('POST', '/unblock', { body: { peerId } }),
    blocked: async (): Promise<BlockListReply> => this.api.request('GET', '/block'),
    allow: async (peerId: string): Promise<AllowReply> => this.api.request('POST', '/allow', { body: { peerId } }),
    disallow: async (peerId: string): Promise<DisallowReply> => this.api.request('DELETE', `/allow/${segment(peerId)}`),
    allowlist: async (): Promise<AllowListReply> => this.api.request('GET', '/allow')
  }

  readonly memory = {
    namespaces: async (): Promise<NamespacesReply> => this.api.request('GET', '/memory'),
    put: async (namespace: string, key: string, value: JsonValue, options: MemoryPutOptions = {}): Promise<Entry> => {
      const reply = await this.api.request<EntryReply>('POST', `/memory/${segment(namespace)}`, { body: { key, value, ...options } })
      return reply.entry
    },
    /** Writes all `entries` or none, in one update (at most MAX_BATCH_ENTRIES, within the body cap). */
    putMany: async (namespace: string, entries: MemoryBatchRequest['entries']): Promise<Entry[]> => {
      const body: MemoryBatchRequest = { entries }
      return (await this.api.request<MemoryBatchReply>('POST', `/memory/${segment(namespace)}/batch`, { body })).entries
    },
    /** The entry, or undefined when there is none (no such key, or no such namespace yet). */
    get: async (namespace: string, key: string): Promise<Entry | undefined> => {
      try {
        return (await this.api.request<EntryReply>('GET', `/memory/${segment(namespace)}/${segment(key)}`)).entry
      } catch (err) {
        if (err instanceof PeerflowError && err.kind === 'not-found') return undefined
        throw err
      }
    },
    list: async (namespace: string, options: { prefix?: string } = {}): Promise<Entry[]> => {
      const reply = await this.api.request<MemoryListReply>('GET', `/memory/${segment(namespace)}`, { query: { prefix: options.prefix } })
      return reply.entries
    },
    delete: async (namespace: string, key: string): Promise<boolean> => {
      return (await this.api.request<MemoryDeleteReply>('DELETE', `/memory/${segment(namespace)}/${segment(key)}`)).deleted
    }
  }

  readonly swarms = {
    list: async (): Promise<SwarmStatus[]> => (await this.api.request<SwarmListReply>('GET', '/swarms')).swarms,
    status: async (name: string): Promise<SwarmStatus> => this.api.request('GET', `/swarms/${segment(name)}`),
    init: async (request: SwarmInitRequest): Promise<SwarmStatus> => this.api.request('POST', '/swarms', { body: request }),
    join: async (name: string, roles: string[] = []): Promise<SwarmStatus> => this.api.request('POST', `/swarms/${segment(name)}/join`, { body: { roles } }),
    leave: async (name: string): Promise<SwarmStatus> => this.api.request('POST', `/swarms/${segment(name)}/leave`),
    events: async (name: string, after = 0): Promise<SwarmEventsReply> => this.api.request('GET', `/swarms/${segment(name)}/events`, { query: { after } })
  }

  readonly patterns = {
    store: async (request: PatternStoreRequest): Promise<PatternReply['pattern']> =>
      (await this.api.request<PatternReply>('POST', '/patterns', { body: request, timeoutMs: LONG_CALL_MS })).pattern,
    query: async (query: PatternQuery): Promise<PatternQueryReply> => {
      const { question, ...rest } = query
      return this.api.request('POST', '/patterns/query', { body: { text: question, ...rest }, timeoutMs: LONG_CALL_MS })
    },
    list: async (query: PatternListQuery = {}): Promise<PatternListReply['patterns']> =>
      (await this.api.request<PatternListReply>('GET', '/patterns', { query: { ...query } })).patterns,
    recordOutcome: async (names: string[], success: boolean): Promise<PatternOutcomeReply['patterns']> =>
      (await this.api.request<PatternOutcomeReply>('POST', '/patterns/outcome', { body: { names, success } })).patterns,
    stats: async (): Promise<PatternStatsReply> => this.api.request('GET', '/patterns/stats'),
    forget: async (name: string): Promise<boolean> => (await this.api.request<PatternForgetReply>('DELETE', `/patterns/${segment(name)}`)).forgotten,
    consolidate: async (options: { dryRun?: boolean } = {}): Promise<PatternConsolidateReply> =>
      this.api.request('POST', '/patterns/consolidate', { body: options, timeoutMs: 2 * LONG_CALL_MS })
  }

  readonly tasks = {
    submit: async (request: TaskSubmitRequest): Promise<TaskReport> => this.api.request('POST', '/tasks', { body: request }),
    show: async (id: string): Promise<TaskReport> => this.api.request('GET', `/tasks/${segment(id)}`),
    list: async (query: TaskListQuery = {}): Promise<TaskListReply['tasks']> =>
      (await this.api.request<TaskListReply>('GET', '/tasks', { query: { ...query } })).tasks,
    cancel: async (id: string): Promise<TaskReport> => this.api.request('POST', `/tasks/${segment(id)}/cancel`),
    /** Decides a task waiting in input-required; who decided and `note` are recorded. */
    approve: async (id: string, note: string | null = null): Promise<TaskReport> => this.api.request('POST', `/tasks/${segment(id)}/approve`, { body: { note } }),
    reject: async (id: string, note: string | null = null): Promise<TaskReport> => this.api.request('POST', `/tasks/${segment(id)}/reject`, { body: { note } }),
    /** The task each time it changes, ending with its final state (done, failed or cancelled). */
    watch: (id: string, options: WatchOptions = {}): AsyncIterableIterator<TaskEvent> => this.#watch(id, options),
    /** Resolves with the finished task (whatever its final state). */
    wait: async (id: string, options: WaitOptions = {}): Promise<TaskReport> => {
      const deadline = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs)
      const signal = [options.signal, deadline].filter((s) => s !== undefined)
      let last: TaskReport | undefined
      try {
        for await (const task of this.#watch(id, { ...options, signal: signal.length === 0 ? undefined : AbortSignal.any(signal) })) last = task
      } catch (err) {
        if (deadline?.aborted === true) throw new PeerflowError('timeout', `task ${id} is still ${last?.state ?? 'unknown'} after ${options.timeoutMs} ms`)
        throw err
      }
      return last as TaskReport
    }
  }

  readonly agents = {
    list: async (): Promise<AgentListReply> => this.api.request('GET', '/agents'),
    /** Roles this node can run: built in, from role files, shared by swarm members. */
    roles: async (): Promise<AgentRolesReply> => this.api.request('GET', '/agents/roles'),
    /** An ephemeral agent slot on this node, for a TTL and a token budget. */
    spawn: async (request: AgentSpawnRequest): Promise<SlotInfo> => this.api.request('POST', '/agents', { body: request }),
    /** Publishes a role file of this node to the swarm members through replicated memory. */
    shareRole: async (role: string): Promise<RoleListing> => this.api.request('POST', `/agents/roles/${encodeURIComponent(role)}/share`)
  }

  readonly budget = {
    /** Daily caps and today's spend per task, swarm, network and node. */
    show: async (): Promise<BudgetReport> => this.api.request('GET', '/budget'),
    set: async (request: BudgetSetRequest): Promise<BudgetReport> => this.api.request('POST', '/budget', { body: request })
  }

  /** Every tool this node's agents may use, by server, with the roles allowed each. */
  async tools (): Promise<ToolCatalog> {
    return this.api.request('GET', '/tools')
  }

  /** The model routing table by priority, prices, and which endpoints answer (each is probed). */
  async models (): Promise<ModelsReport> {
    return this.api.request('GET', '/models', { timeoutMs: 20_000 })
  }

  async * #watch (id: string, options: WatchOptions): AsyncIterableIterator<TaskEvent> {
    let seen = ''
    for (;;) {
      const task = await this.tasks.show(id)
      const now = fingerprint(task)
      if (now !== seen) {
        seen = now
        yield task
      }
      if (TERMINAL_TASK_STATES.has(task.state)) return
      await sleep(options.intervalMs ?? 250, options.signal)
    }
  }
}

/**
 * A typed client of the node whose control API is at `address` (host:port, default 127.0.0.1:7433).
 * Asks the node who it is first, so a wrong address or token fails here rather than at first use.
 */
export async function connect (address?: string, options: ConnectOptions = {}): Promise<PeerflowClient> {
  const client = new PeerflowClient(address, options)
  await client.id()
  return client
}
