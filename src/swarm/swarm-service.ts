import { PeerflowError } from '../../crdt/index.ts'
import { decodeRaftMessage, type RaftMessage } from '../../protocols/raft/messages.ts'
import type { ElectionEvent } from '../../protocols/raft/output.ts'
import {
  SWARM_LIMITS, SWARM_NAME, votersOf, workersOf, type SwarmDefinition, type SwarmReply, type SwarmRequest, type Topology
} from '../../protocols/swarm.ts'
import type { ElectionStateStore, SwarmDefinitionStore, SwarmTransport } from './ports.ts'
import { SwarmEventLog } from './swarm-events.ts'
import { SwarmMember, type ElectionTiming } from './swarm-member.ts'

export class SwarmError extends PeerflowError {
  override name = 'SwarmError'
  declare readonly kind: 'not-found' | 'conflict' | 'unavailable' | 'invalid'
  constructor (kind: SwarmError['kind'], message: string) {
    super(kind, message)
  }
}

export interface SwarmServiceOptions {
  self: string
  definitions: SwarmDefinitionStore
  stateStore: ElectionStateStore
  transport: SwarmTransport
  timing: ElectionTiming
  /** Is there an open connection to this peer right now? */
  isConnected: (peer: string) => boolean
  /** Agents this node runs per swarm, for status; the task layer fills it in. */
  agentsOn?: (swarm: string, peer: string) => number
  log: Record<'debug' | 'info' | 'warn' | 'error', (fields: object, message: string) => void>
  tickIntervalMs?: number
}

export interface MemberStatus {
  peerId: string
  voter: boolean
  roles: string[]
  /** leader | follower | candidate | pre-candidate (this node) | healthy | unreachable | unknown */
  state: string
  /** Age of the last heartbeat or ack seen by this node, when it has one. */
  lastHeartbeatMs: number | null
  agents: number
}

export interface SwarmStatus {
  name: string
  topology: Topology
  maxAgents: number
  term: number
  leader: string | null
  /** This node's role in the swarm, or 'observer' when it is not a member. */
  self: string
  members: MemberStatus[]
  healthy: number
  version: number
}

/**
 * Every swarm this node knows: definitions from replicated memory, an election seat in the ones it
 * belongs to, and membership changes, which go through each swarm's leader.
 */
export class SwarmService {
  readonly events = new SwarmEventLog()
  readonly #options: SwarmServiceOptions
  readonly #members = new Map<string, SwarmMember>()
  readonly #starting = new Map<string, Promise<void>>()
  readonly #unreachable = new Map<string, Set<string>>()
  #tickTimer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined
  #stopped = false

  constructor (options: SwarmServiceOptions) {
    this.#options = options
  }

  async start (): Promise<void> {
    this.#unsubscribe = this.#options.definitions.onChange(() => { this.#reconcile() })
    this.#reconcile()
    this.#tickTimer = setInterval(() => { this.#tick() }, this.#options.tickIntervalMs ?? 10)
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#tickTimer)
    this.#unsubscribe?.()
    await Promise.allSettled(this.#starting.values())
    await Promise.allSettled([...this.#members.values()].map(async (member) => { await member.settled() }))
    this.#members.clear()
  }

  member (swarm: string): SwarmMember | undefined {
    return this.#members.get(swarm)
  }

  /**
   * Creates a swarm with this node as its only member (and so its leader). `voters` caps how many
   * of the first members vote (default SWARM_LIMITS.maxVoters); later joiners are workers.
   */
  async init (name: string, topology: Topology, maxAgents: number, roles: string[], voters?: number): Promise<SwarmDefinition> {
    if (!SWARM_NAME.test(name)) throw new SwarmError('invalid', `invalid swarm name '${name}': lowercase letters, digits, '-' and '_', up to 48 characters`)
    if (this.#options.definitions.get(name) !== undefined) throw new SwarmError('conflict', `swarm '${name}' already exists`)
    if (voters !== undefined && (!Number.isInteger(voters) || voters < 1 || voters > SWARM_LIMITS.maxVoters)) {
      throw new SwarmError('invalid', `voters must be an integer from 1 to ${SWARM_LIMITS.maxVoters}`)
    }
    const definition: SwarmDefinition = {
      name, topology, maxAgents, ...(voters === undefined ? {} : { voters }), members: [this.#options.self], roles: { [this.#options.self]: roles },
      createdBy: this.#options.self, createdAt: Date.now(), version: 1
    }
    await this.#options.definitions.put(definition)
    this.#reconcile()
    return definition
  }

  /** Asks the swarm's leader to add this node. */
  async join (name: string, roles: string[]): Promise<SwarmDefinition> {
    const definition = this.#requireDefinition(name)
    if (definition.members.includes(this.#options.self)) return definition
    return this.#askLeader(definition, { type: 'join', swarm: name, roles })
  }

  async leave (name: string): Promise<SwarmDefinition> {
    const definition = this.#requireDefinition(name)
    if (!definition.members.includes(this.#options.self)) throw new SwarmError('invalid', `this node is not a member of swarm '${name}'`)
    if (this.#members.get(name)?.role === 'leader') return this.#applyMembership(definition, { type: 'leave', swarm: name }, this.#options.self)
    return this.#askLeader(definition, { type: 'leave', swarm: name })
  }

  list (): SwarmStatus[] {
    return this.#options.definitions.list().map((definition) => this.#statusOf(definition)).sort((a, b) => a.name.localeCompare(b.name))
  }

  status (name: string): SwarmStatus {
    return this.#statusOf(this.#requireDefinition(name))
  }

  /** An election message from `from` (transport-authenticated). Non-members are ignored. */
  onRaftMessage (from: string, swarm: string, raw: unknown): void {
    const member = this.#members.get(swarm)
    const definition = this.#options.definitions.get(swarm)
    if (member === undefined || definition === undefined || !definition.members.includes(from)) return
    let message: RaftMessage
    try {
      message = decodeRaftMessage(raw)
    } catch (err) {
      this.#options.log.debug({ swarm, from, err: (err as Error).message }, 'dropped a malformed election message')
      return
    }
    member.receive(from, message)
  }

  /** A membership request from another node: only the leader applies it. */
  async onRequest (from: string, request: SwarmRequest): Promise<SwarmReply> {
    const definition = this.#options.definitions.get(request.swarm)
    if (definition === undefined) return { type: 'error', message: `unknown swarm '${request.swarm}'` }
    const member = this.#members.get(request.swarm)
    if (member?.role !== 'leader') return { type: 'not-leader', leader: member?.leader ?? null }
    try {
      const updated = await this.#applyMembership(definition, request, from)
      return { type: 'ok', term: member.term, definition: updated }
    } catch (err) {
      return { type: 'error', message: (err as Error).message }
    }
  }

  async #applyMembership (definition: SwarmDefinition, request: SwarmRequest, peer: string): Promise<SwarmDefinition> {
    let members = definition.members
    const roles = { ...definition.roles }
    if (request.type === 'join') {
      if (!members.includes(peer)) {
        if (members.length >= SWARM_LIMITS.maxMembers) throw new SwarmError('conflict', `swarm '${definition.name}' is full (${SWARM_LIMITS.maxMembers} members)`)
        members = [...members, peer]
      }
      roles[peer] = request.roles
    } else {
      members = members.filter((member) => member !== peer)
      delete roles[peer]
      if (members.length === 0) throw new SwarmError('invalid', `the last member cannot leave swarm '${definition.name}'`)
    }
    const updated: SwarmDefinition = { ...definition, members, roles, version: definition.version + 1 }
    await this.#options.definitions.put(updated)
    this.events.push({ type: request.type === 'join' ? 'member-joined' : 'member-left', swarm: definition.name, member: peer, at: Date.now() })
    this.#options.log.info({ swarm: definition.name, member: peer }, request.type === 'join' ? 'member joined swarm' : 'member left swarm')
    this.#reconcile()
    return updated
  }

  async #askLeader (definition: SwarmDefinition, request: SwarmRequest): Promise<SwarmDefinition> {
    const candidates = definition.members.filter((peer) => peer !== this.#options.self && this.#options.isConnected(peer))
    if (candidates.length === 0) throw new SwarmError('unavailable', `no member of swarm '${definition.name}' is connected: join one of its nodes first`)
    const asked = new Set<string>()
    let next: string | undefined = candidates[0]
    while (next !== undefined && !asked.has(next)) {
      asked.add(next)
      let reply: SwarmReply
      try {
        reply = await this.#options.transport.request(next, request)
      } catch (err) {
        this.#options.log.debug({ peer: next, err: (err as Error).message }, 'membership request failed')
        next = candidates.find((peer) => !asked.has(peer))
        continue
      }
      if (reply.type === 'ok') {
        await this.#waitForDefinition(definition.name, reply.definition.version)
        this.#reconcile()
        return reply.definition
      }
      if (reply.type === 'error') throw new SwarmError('invalid', reply.message)
      next = reply.leader !== null && reply.leader !== this.#options.self && this.#options.isConnected(reply.leader) && !asked.has(reply.leader)
        ? reply.leader
        : candidates.find((peer) => !asked.has(peer))
    }
    throw new SwarmError('unavailable', `swarm '${definition.name}' has no reachable leader right now (election in progress?): retry shortly`)
  }

  /** The leader's write replicates by gossip; wait briefly so a following `status` already shows it. */
  async #waitForDefinition (name: string, version: number): Promise<void> {
    const deadline = Date.now() + 3_000
    while (Date.now() < deadline && (this.#options.definitions.get(name)?.version ?? 0) < version) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  #requireDefinition (name: string): SwarmDefinition {
    const definition = this.#options.definitions.get(name)
    if (definition === undefined) {
      const known = this.#options.definitions.list().map((d) => d.name)
      throw new SwarmError('not-found', `unknown swarm '${name}'${known.length > 0 ? ` (known: ${known.join(', ')})` : ' (no swarms known yet on this node)'}`)
    }
    return definition
  }

  /** Starts or stops election seats to match the definitions this node is a member of. */
  #reconcile (): void {
    if (this.#stopped) return
    const definitions = this.#options.definitions.list()
    for (const definition of definitions) {
      const isMember = definition.members.includes(this.#options.self)
      const seat = this.#members.get(definition.name)
      if (isMember && seat === undefined) {
        this.#startSeat(definition).catch((err: Error) => { this.#options.log.warn({ swarm: definition.name, err: err.message }, 'cannot take a seat in the swarm election') })
      }
      else if (isMember && seat !== undefined) {
        seat.setVoters(votersOf(definition))
        seat.setWorkers(workersOf(definition))
      }
      else if (!isMember && seat !== undefined) this.#members.delete(definition.name)
    }
    for (const name of this.#members.keys()) {
      if (!definitions.some((definition) => definition.name === name)) this.#members.delete(name)
    }
  }

  async #startSeat (definition: SwarmDefinition): Promise<void> {
    if (this.#starting.has(definition.name)) return
    const starting = (async () => {
      const persisted = await this.#options.stateStore.load(definition.name)
      if (this.#stopped || this.#members.has(definition.name)) return
      const current = this.#options.definitions.get(definition.name) ?? definition
      this.#members.set(definition.name, new SwarmMember({
        swarm: definition.name,
        self: this.#options.self,
        voters: votersOf(current),
        workers: workersOf(current),
        persisted,
        timing: this.#options.timing,
        stateStore: this.#options.stateStore,
        transport: this.#options.transport,
        onEvents: (events) => { this.#onElectionEvents(definition.name, events) },
        onError: (err) => {
          this.#options.log.error({ swarm: definition.name, err: err.message }, 'election state not persisted: leaving the election until it can be reloaded from disk')
          this.#members.delete(definition.name)
          setTimeout(() => { this.#reconcile() }, this.#options.timing.electionTimeoutMaxMs).unref()
        }
      }))
      this.#options.log.info({ swarm: definition.name }, 'took a seat in the swarm election')
    })().finally(() => { this.#starting.delete(definition.name) })
    this.#starting.set(definition.name, starting)
    await starting
  }

  #onElectionEvents (swarm: string, events: ElectionEvent[]): void {
    for (const event of events) {
      if (event.type === 'leader-changed') {
        this.events.push({ type: 'leader-changed', swarm, leader: event.leader, term: event.term, at: Date.now() })
        this.#options.log.info({ swarm, leader: event.leader, term: event.term }, 'swarm leader changed')
      }
    }
  }

  #tick (): void {
    const now = Date.now()
    const silenceLimit = 3 * this.#options.timing.electionTimeoutMaxMs
    for (const member of this.#members.values()) {
      member.tick()
      if (member.role !== 'leader') continue
      // Reachability as the leader sees it: a voter that stopped acking for 3 election timeouts.
      const unreachable = this.#unreachable.get(member.swarm) ?? new Set<string>()
      for (const voter of member.voters) {
        if (voter === this.#options.self) continue
        const silentFor = member.silentForMs(voter)
        const silent = silentFor === null || silentFor > silenceLimit
        if (silent && !unreachable.has(voter)) {
          unreachable.add(voter)
          this.events.push({ type: 'member-unreachable', swarm: member.swarm, member: voter, at: now })
        } else if (!silent && unreachable.delete(voter)) {
          this.events.push({ type: 'member-reachable', swarm: member.swarm, member: voter, at: now })
        }
      }
      this.#unreachable.set(member.swarm, unreachable)
    }
  }

  #statusOf (definition: SwarmDefinition): SwarmStatus {
    const seat = this.#members.get(definition.name)
    const voters = new Set(votersOf(definition))
    const members = definition.members.map((peerId): MemberStatus => {
      let state: string
      let silentFor: number | null = null
      if (peerId === this.#options.self) {
        state = seat?.role ?? 'joining'
      } else if (seat?.role === 'leader') {
        silentFor = seat.silentForMs(peerId)
        state = silentFor !== null && silentFor <= 3 * this.#options.timing.electionTimeoutMaxMs ? 'follower' : 'unreachable'
      } else if (seat !== undefined && peerId === seat.leader) {
        silentFor = seat.silentForMs(peerId)
        state = 'leader'
      } else {
        state = this.#options.isConnected(peerId) ? 'connected' : 'unreachable'
      }
      return {
        peerId,
        voter: voters.has(peerId),
        roles: definition.roles[peerId] ?? [],
        state,
        lastHeartbeatMs: silentFor === null ? null : Math.round(silentFor),
        agents: this.#options.agentsOn?.(definition.name, peerId) ?? 0
      }
    })
    return {
      name: definition.name,
      topology: definition.topology,
      maxAgents: definition.maxAgents,
      term: seat?.term ?? 0,
      leader: seat?.leader ?? null,
      self: seat?.role ?? 'observer',
      members,
      healthy: members.filter((member) => member.state !== 'unreachable').length,
      version: definition.version
    }
  }
}
