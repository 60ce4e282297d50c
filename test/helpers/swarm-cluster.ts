import { Agent, request as httpRequest } from 'node:http'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startNodeProcess, type NodeProcess } from './cli.ts'
import { tempDir } from './nodes.ts'

/** The `election` block of peerflow.json. */
export interface ElectionTimingConfig {
  timeoutMinMs: number
  timeoutMaxMs: number
  heartbeatMs: number
}

/** The Raft paper's timing, which is also the node's default. */
export const PAPER_TIMING: ElectionTimingConfig = { timeoutMinMs: 150, timeoutMaxMs: 300, heartbeatMs: 50 }

/** What `GET /swarms/:name` and `peerflow swarm status --json` answer (the fields tests read). */
export interface SwarmStatusView {
  name: string
  topology: string
  maxAgents: number
  term: number
  leader: string | null
  self: string
  members: Array<{ peerId: string, voter: boolean, roles: string[], state: string, lastHeartbeatMs: number | null, agents: number }>
  healthy: number
  version: number
}

/** One entry of `GET /swarms/:name/events`. */
export interface SwarmEventView {
  type: 'leader-changed' | 'member-joined' | 'member-left' | 'member-unreachable' | 'member-reachable'
  swarm: string
  leader?: string | null
  term?: number
  member?: string
  /** Wall clock (Date.now()) of the node that logged it. */
  at: number
  seq: number
}

export interface PersistedVote {
  term: number
  votedFor: string | null
}

export const LOOPBACK_NODE_ARGS = [
  '--listen', '/ip4/127.0.0.1/udp/0/quic-v1',
  '--listen', '/ip4/127.0.0.1/tcp/0',
  '--api', '127.0.0.1:0',
  // The semantic embedder loads a model at start; swarms do not need it.
  '--embedder', 'hash'
]

// Pollers hit the same few APIs every few milliseconds: reusing sockets keeps that cheap.
const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: 4 })

/** One JSON request to a node's control API, straight over node:http (no CLI process). */
export async function apiCall<T> (api: string, method: string, path: string, body?: unknown, timeoutMs = 5_000): Promise<{ status: number, body: T }> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const request = httpRequest(`http://${api}${path}`, {
      method,
      agent: keepAliveAgent,
      headers: payload === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' }
    }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        try {
          resolve({ status: response.statusCode ?? 0, body: (text === '' ? null : JSON.parse(text)) as T })
        } catch (err) {
          reject(err as Error)
        }
      })
      response.on('error', reject)
    })
    request.setTimeout(timeoutMs, () => { request.destroy(new Error(`${method} ${path} on ${api}: no answer within ${timeoutMs} ms`)) })
    request.on('error', reject)
    request.end(payload)
  })
}

/** A member's view of a swarm, or null while it cannot answer (killed, restarting, unknown swarm). */
export async function swarmStatusOf (api: string, swarm: string, timeoutMs = 2_000): Promise<SwarmStatusView | null> {
  try {
    const reply = await apiCall<SwarmStatusView>(api, 'GET', `/swarms/${encodeURIComponent(swarm)}`, undefined, timeoutMs)
    return reply.status === 200 ? reply.body : null
  } catch {
    return null
  }
}

/** Entries a member holds in `namespace`, or -1 while it cannot answer (killed, frozen, a kept-alive socket that died with a freeze). */
export async function entriesOf (api: string, namespace: string): Promise<number> {
  try {
    const reply = await apiCall<{ namespaces: Array<{ name: string, entries: number }> }>(api, 'GET', '/memory', undefined, 2_000)
    return reply.body.namespaces.find((info) => info.name === namespace)?.entries ?? 0
  } catch {
    return -1
  }
}

export async function swarmEventsOf (api: string, swarm: string): Promise<SwarmEventView[]> {
  const reply = await apiCall<{ events: SwarmEventView[] }>(api, 'GET', `/swarms/${encodeURIComponent(swarm)}/events`)
  if (reply.status !== 200) throw new Error(`events of ${swarm} on ${api}: HTTP ${reply.status}`)
  return reply.body.events
}

/** The leader and term every given view reports, when they all report the same non-null leader. */
export function agreement (views: Array<SwarmStatusView | null>): { leader: string, term: number } | undefined {
  const first = views[0]
  if (first === null || first === undefined || first.leader === null) return undefined
  const same = views.every((view) => view !== null && view.leader === first.leader && view.term === first.term)
  return same ? { leader: first.leader, term: first.term } : undefined
}

/** One `peerflow start` process and the data dir it keeps across restarts. */
export class ClusterMember {
  readonly dataDir: string
  #process: NodeProcess

  constructor (dataDir: string, process: NodeProcess) {
    this.dataDir = dataDir
    this.#process = process
  }

  get process (): NodeProcess { return this.#process }
  get api (): string { return this.#process.api }
  get peerId (): string { return this.#process.peerId }
  get running (): boolean { return this.#process.child.exitCode === null && this.#process.child.signalCode === null }

  /** Its QUIC address, ending in /p2p/<PeerId>. */
  get quicAddr (): string {
    const addr = this.#process.addresses.find((a) => a.includes('/quic-v1/'))
    if (addr === undefined) throw new Error(`member ${this.peerId} listens on no QUIC address`)
    return addr
  }

  replace (process: NodeProcess): void {
    this.#process = process
  }

  /** The term and vote the election persisted for `swarm`, or null before the first save. */
  async persistedVote (swarm: string): Promise<PersistedVote | null> {
    try {
      return JSON.parse(await readFile(join(this.dataDir, 'elections', `${swarm}.json`), 'utf8')) as PersistedVote
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  }
}

/**
 * Watches members' persisted election state (`<data>/elections/<swarm>.json`) and records every
 * sighting that breaks "the term never decreases, and within a term the vote never changes or
 * disappears": either would let a node vote twice in one term. Polling may miss short-lived
 * states, so it can only prove violations, never their absence.
 */
export class VoteWatcher {
  readonly violations: string[] = []
  /** Distinct states seen, per data dir, in order. */
  readonly history = new Map<string, PersistedVote[]>()
  readonly #members: () => ClusterMember[]
  readonly #swarm: string
  #timer: NodeJS.Timeout | undefined
  #reading: Promise<void> = Promise.resolve()

  constructor (members: () => ClusterMember[], swarm: string) {
    this.#members = members
    this.#swarm = swarm
  }

  start (intervalMs = 20): void {
    this.#timer = setInterval(() => { this.#reading = this.#reading.then(async () => { await this.check() }) }, intervalMs)
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    await this.#reading
  }

  async check (): Promise<void> {
    await Promise.all(this.#members().map(async (member) => {
      const now = await member.persistedVote(this.#swarm).catch(() => null)
      if (now === null) return
      const seen = this.history.get(member.dataDir) ?? []
      const last = seen.at(-1)
      if (last !== undefined && last.term === now.term && last.votedFor === now.votedFor) return
      if (last !== undefined && now.term < last.term) {
        this.violations.push(`${member.peerId}: term went back from ${last.term} to ${now.term}`)
      } else if (last !== undefined && now.term === last.term && last.votedFor !== null) {
        this.violations.push(`${member.peerId}: vote in term ${now.term} changed from ${last.votedFor} to ${now.votedFor}`)
      }
      seen.push(now)
      this.history.set(member.dataDir, seen)
    }))
  }
}

/** Polls until `check` returns a value other than undefined, or fails naming `what`. */
export async function pollFor<T> (what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/**
 * Node processes on loopback with a given election timing: started, killed and restarted from
 * their own data dirs, and fully meshed so every member can reach every other one directly.
 */
export class SwarmCluster {
  readonly members: ClusterMember[] = []
  readonly timing: ElectionTimingConfig
  readonly #env: NodeJS.ProcessEnv
  readonly #startTimeoutMs: number
  readonly #extraDirs: string[] = []

  /**
   * `env` reaches every node process, e.g. PEERFLOW_LOG_LEVEL=debug while investigating;
   * `startTimeoutMs` bounds each process's start (raise it where the machine may be loaded).
   */
  constructor (timing: ElectionTimingConfig = PAPER_TIMING, env: NodeJS.ProcessEnv = {}, startTimeoutMs = 20_000) {
    this.timing = timing
    this.#env = env
    this.#startTimeoutMs = startTimeoutMs
  }

  /** Starts `count` more members (in parallel) and connects each to every member started before it. */
  async grow (count: number): Promise<ClusterMember[]> {
    const before = [...this.members]
    const attempts = await Promise.allSettled(Array.from({ length: count }, async () => {
      const dir = await tempDir('peerflow-swarm-')
      await writeFile(join(dir, 'peerflow.json'), JSON.stringify({ election: this.timing }))
      try {
        return new ClusterMember(dir, await startNodeProcess(['--data', dir, ...LOOPBACK_NODE_ARGS], this.#env, this.#startTimeoutMs))
      } catch (err) {
        this.#extraDirs.push(dir)
        throw err
      }
    }))
    // Every process that did start is registered, so that cleanup() stops it even if another failed.
    const started = attempts.flatMap((attempt) => attempt.status === 'fulfilled' ? [attempt.value] : [])
    this.members.push(...started)
    const failed = attempts.find((attempt) => attempt.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    for (const [index, member] of started.entries()) {
      await this.connect(member, [...before, ...started.slice(0, index)])
    }
    return started
  }

  /** Dials each of `others` from `member` over the API (the node keeps these connections up). */
  async connect (member: ClusterMember, others: ClusterMember[]): Promise<void> {
    await Promise.all(others.filter((other) => other !== member && other.running).map(async (other) => {
      const reply = await apiCall<{ error?: string }>(member.api, 'POST', '/join', { multiaddr: other.quicAddr }, 15_000)
      if (reply.status !== 200) throw new Error(`join ${other.peerId} from ${member.peerId}: HTTP ${reply.status} ${reply.body?.error ?? ''}`)
    }))
  }

  running (): ClusterMember[] {
    return this.members.filter((member) => member.running)
  }

  /** SIGKILL: no shutdown path runs, as in a crash. */
  async kill (member: ClusterMember): Promise<void> {
    await member.process.stop('SIGKILL')
  }

  /** Starts the member again from its data dir and reconnects it to every running member. */
  async restart (member: ClusterMember): Promise<void> {
    if (member.running) await member.process.stop('SIGTERM')
    member.replace(await startNodeProcess(['--data', member.dataDir, ...LOOPBACK_NODE_ARGS], this.#env))
    await this.connect(member, this.running())
  }

  async statuses (swarm: string, members: ClusterMember[] = this.running()): Promise<Array<SwarmStatusView | null>> {
    return Promise.all(members.map(async (member) => swarmStatusOf(member.api, swarm)))
  }

  /** Waits until every given member reports the same leader and term. */
  async waitForAgreement (swarm: string, members: ClusterMember[] = this.running(), timeoutMs = 10_000): Promise<{ leader: string, term: number }> {
    return pollFor(`members ${members.map((m) => m.peerId.slice(-6)).join(', ')} to agree on a leader of ${swarm}`,
      async () => agreement(await this.statuses(swarm, members)), timeoutMs, 20)
  }

  /**
   * Asks `member`'s node to join `swarm` through the leader, once the definition has replicated to
   * it. While an election is under way the node answers 503 ("retry shortly"), so this retries.
   */
  async joinSwarm (member: ClusterMember, swarm: string, roles: string[] = [], timeoutMs = 15_000): Promise<SwarmStatusView> {
    await pollFor(`${swarm}'s definition to reach ${member.peerId}`, async () => (await swarmStatusOf(member.api, swarm)) ?? undefined, timeoutMs)
    return pollFor(`${member.peerId} to join ${swarm}`, async () => {
      const reply = await apiCall<SwarmStatusView & { error?: string }>(member.api, 'POST', `/swarms/${encodeURIComponent(swarm)}/join`, { roles }, timeoutMs)
      if (reply.status === 200) return reply.body
      if (reply.status !== 503) throw new Error(`join ${swarm} from ${member.peerId}: HTTP ${reply.status} ${reply.body.error ?? ''}`)
      return undefined
    }, timeoutMs, 100)
  }

  /** Creates `swarm` on the first of `members` and joins the others one at a time, as Raft membership changes must be. */
  async formSwarm (swarm: string, members: ClusterMember[] = this.running()): Promise<{ leader: string, term: number }> {
    const [first, ...others] = members
    if (first === undefined) throw new Error('a swarm needs at least one member')
    const created = await apiCall<{ error?: string }>(first.api, 'POST', '/swarms', { name: swarm, topology: 'mesh' })
    if (created.status !== 200) throw new Error(`init ${swarm}: HTTP ${created.status} ${created.body.error ?? ''}`)
    for (const [index, member] of others.entries()) {
      await this.joinSwarm(member, swarm)
      // Let each change settle (the newcomer follows the leader) before the next one.
      await this.waitForAgreement(swarm, members.slice(0, index + 2))
    }
    return this.waitForAgreement(swarm, members)
  }

  memberWithPeerId (peerId: string): ClusterMember {
    const member = this.members.find((m) => m.peerId === peerId)
    if (member === undefined) throw new Error(`no cluster member has PeerId ${peerId}`)
    return member
  }

  async cleanup (): Promise<void> {
    await Promise.all(this.members.map(async (member) => { await member.process.stop('SIGKILL') }))
    await Promise.all([...this.members.map((m) => m.dataDir), ...this.#extraDirs].map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
    this.members.length = 0
    this.#extraDirs.length = 0
  }
}
