import { Election } from '../../protocols/raft/election.ts'
import { decodeRaftMessage, RAFT_LIMITS, toWire, type RaftMessage, type RaftMessageType } from '../../protocols/raft/messages.ts'
import type { Output } from '../../protocols/raft/output.ts'
import { INITIAL_STATE, type PersistentState } from '../../protocols/raft/state.ts'
import { createPrng, type Prng } from './prng.ts'

export interface NetworkConditions {
  minDelayMs: number
  maxDelayMs: number
  lossRate: number
  duplicateRate: number
}

export const HEALTHY_NETWORK: NetworkConditions = { minDelayMs: 0.5, maxDelayMs: 1.5, lossRate: 0, duplicateRate: 0 }

export interface SimOptions {
  seed: number
  size: number
  electionTimeoutMinMs?: number
  electionTimeoutMaxMs?: number
  heartbeatIntervalMs?: number
  preVote?: boolean
  checkQuorum?: boolean
  network?: NetworkConditions
}

interface SimNode {
  election: Election | null
  /** What the node's driver wrote to disk: the only thing that survives a crash. */
  persisted: PersistentState
  /** Voters to restart with: in peerflow they come from the replicated swarm definition, not from raft. */
  members: string[]
  tickToken: number
  tickAt: number
}

type SimEvent =
  | { kind: 'deliver', from: string, to: string, frame: string }
  | { kind: 'tick', node: string, token: number }

/**
 * A deterministic discrete-event simulation of election nodes on a faulty network: a virtual clock,
 * per-message random delay (hence reordering), loss, duplication, partitions, and crashes with
 * restarts from persisted state. Everything random comes from one seed, so a failure replays exactly.
 * It checks safety as it goes and records violations instead of throwing mid-run.
 */
export class RaftSim {
  readonly prng: Prng
  network: NetworkConditions
  /** Every term's leader, across all time and all nodes. */
  readonly leadersByTerm = new Map<number, string>()
  readonly violations: string[] = []
  readonly #options: SimOptions
  readonly #queue = new EventQueue<SimEvent>()
  readonly #nodes = new Map<string, SimNode>()
  readonly #votes = new Map<string, string>()
  readonly #sent = new Map<string, number>()
  #groups: Map<string, number> | null = null
  #now = 0
  #eventsProcessed = 0

  constructor (options: SimOptions) {
    this.#options = options
    this.prng = createPrng(options.seed)
    this.network = options.network ?? HEALTHY_NETWORK
    const members = Array.from({ length: options.size }, (_, index) => `n${index + 1}`)
    for (const id of members) this.addNode(id, members)
  }

  get now (): number { return this.#now }
  get eventsProcessed (): number { return this.#eventsProcessed }
  get ids (): string[] { return [...this.#nodes.keys()] }
  liveIds (): string[] { return this.ids.filter((id) => this.isLive(id)) }
  isLive (id: string): boolean { return this.#node(id).election !== null }

  election (id: string): Election {
    const election = this.#node(id).election
    if (election === null) throw new Error(`${id} is crashed`)
    return election
  }

  persisted (id: string): PersistentState { return { ...this.#node(id).persisted } }

  /** How many messages of `type` node `from` has sent so far. */
  sent (from: string, type: RaftMessageType): number { return this.#sent.get(`${from}:${type}`) ?? 0 }

  addNode (id: string, members: readonly string[]): void {
    if (this.#nodes.has(id)) throw new Error(`${id} exists`)
    this.#nodes.set(id, { election: null, persisted: INITIAL_STATE, members: [...members], tickToken: 0, tickAt: NaN })
    this.#start(id)
  }

  crash (id: string): void {
    const node = this.#node(id)
    if (node.election === null) return
    node.members = [...node.election.members]
    node.election = null
    node.tickToken++
  }

  restart (id: string): void {
    if (!this.isLive(id)) this.#start(id)
  }

  setMembers (id: string, members: readonly string[]): void {
    this.#apply(id, this.election(id).setMembers(members, this.#now))
  }

  /** Nodes talk only within their group; nodes in no group are cut off from everyone. Applies to messages in flight too. */
  partition (...groups: string[][]): void {
    this.#groups = new Map(groups.flatMap((group, index) => group.map((id) => [id, index] as const)))
  }

  heal (): void { this.#groups = null }

  canReach (from: string, to: string): boolean {
    if (this.#groups === null) return true
    const group = this.#groups.get(from)
    return group !== undefined && group === this.#groups.get(to)
  }

  runFor (ms: number): void {
    const end = this.#now + ms
    while (this.#queue.nextAt <= end) this.#processNext()
    this.#now = end
  }

  /** Runs until `condition` holds, for at most `withinMs`; returns the virtual time it took, or null. */
  runUntil (condition: () => boolean, withinMs: number): number | null {
    const start = this.#now
    const end = start + withinMs
    if (condition()) return 0
    while (this.#queue.nextAt <= end) {
      this.#processNext()
      if (condition()) return this.#now - start
    }
    this.#now = end
    return null
  }

  /**
   * The leader every live node in `among` agrees on (same leader, same term, and it really leads),
   * or null while they disagree or have none.
   */
  agreedLeader (among: readonly string[] = this.liveIds()): string | null {
    const first = among[0]
    if (first === undefined || !this.isLive(first)) return null
    const leader = this.election(first).leader
    if (leader === null || !this.isLive(leader)) return null
    const leading = this.election(leader)
    if (leading.role !== 'leader') return null
    const agree = among.every((id) => this.isLive(id) && this.election(id).leader === leader && this.election(id).term === leading.term)
    return agree ? leader : null
  }

  /** Runs until the nodes in `among` agree on a leader; throws if they do not within `withinMs`. */
  awaitLeader (withinMs: number, among?: readonly string[]): { leader: string, elapsedMs: number } {
    const elapsedMs = this.runUntil(() => this.agreedLeader(among) !== null, withinMs)
    const leader = this.agreedLeader(among)
    if (elapsedMs === null || leader === null) {
      const states = this.liveIds().map((id) => `${id}:${this.election(id).role}@${this.election(id).term}→${this.election(id).leader ?? '-'}`)
      throw new Error(`no agreed leader within ${withinMs} ms (t=${this.#now}; ${states.join(' ')})`)
    }
    return { leader, elapsedMs }
  }

  /** One random fault: a partition, a heal, a crash, a restart, or new network conditions. */
  disturb (): string {
    const live = this.liveIds()
    const crashed = this.ids.filter((id) => !this.isLive(id))
    const choice = this.prng.int(5)
    if (choice === 0) {
      const groups: string[][] = [[], []]
      for (const id of this.ids) groups[this.prng.int(2)]?.push(id)
      this.partition(...groups)
      return `partition ${JSON.stringify(groups)}`
    }
    if (choice === 1) {
      this.heal()
      return 'heal'
    }
    if (choice === 2 && live.length > 1) {
      const victim = this.prng.pick(live)
      this.crash(victim)
      return `crash ${victim}`
    }
    if (choice === 3 && crashed.length > 0) {
      const revived = this.prng.pick(crashed)
      this.restart(revived)
      return `restart ${revived}`
    }
    const minDelayMs = this.prng.next() * 20
    this.network = {
      minDelayMs,
      maxDelayMs: minDelayMs + this.prng.next() * 60,
      lossRate: this.prng.next() * 0.3,
      duplicateRate: this.prng.next() * 0.2
    }
    return `network ${JSON.stringify(this.network)}`
  }

  /** Heals partitions, restarts every crashed node and makes the network healthy. */
  recover (): void {
    this.heal()
    for (const id of this.ids) this.restart(id)
    this.network = HEALTHY_NETWORK
  }

  #node (id: string): SimNode {
    const node = this.#nodes.get(id)
    if (node === undefined) throw new Error(`no node ${id}`)
    return node
  }

  #start (id: string): void {
    const node = this.#node(id)
    const random = createPrng(this.prng.int(2 ** 31)).next
    node.election = new Election({
      self: id,
      members: node.members,
      electionTimeoutMinMs: this.#options.electionTimeoutMinMs,
      electionTimeoutMaxMs: this.#options.electionTimeoutMaxMs,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      preVote: this.#options.preVote,
      checkQuorum: this.#options.checkQuorum
    }, { persisted: node.persisted, random, now: this.#now })
    this.#scheduleTick(id)
  }

  #processNext (): void {
    const next = this.#queue.pop()
    if (next === undefined) return
    this.#now = next.at
    this.#eventsProcessed++
    const event = next.item
    if (event.kind === 'tick') {
      const node = this.#node(event.node)
      if (node.election === null || event.token !== node.tickToken) return
      node.tickAt = NaN
      const output = node.election.tick(this.#now)
      if (node.election.nextDeadline <= this.#now) throw new Error(`${event.node}: a tick at ${this.#now} left nothing to wait for`)
      this.#apply(event.node, output)
      return
    }
    const target = this.#node(event.to).election
    if (target === null || !this.canReach(event.from, event.to)) return
    // Through the real decoder, as the network driver would.
    const message = decodeRaftMessage(JSON.parse(event.frame))
    this.#apply(event.to, target.receive(this.#now, event.from, message))
  }

  /** Plays the driver: persist first, then send; then check the invariants. */
  #apply (id: string, output: Output): void {
    const node = this.#node(id)
    const election = this.election(id)
    if (output.persist !== undefined) this.#persist(id, node, output.persist)
    for (const { to, message } of output.messages) this.#transmit(id, to, message)
    if (election.role === 'leader') {
      const known = this.leadersByTerm.get(election.term)
      if (known === undefined) this.leadersByTerm.set(election.term, id)
      else if (known !== id) this.violations.push(`t=${this.#now}: ${known} and ${id} both lead term ${election.term}`)
    }
    this.#scheduleTick(id)
  }

  #persist (id: string, node: SimNode, state: PersistentState): void {
    if (state.term < node.persisted.term) this.violations.push(`t=${this.#now}: ${id} persisted term ${state.term} after ${node.persisted.term}`)
    if (state.votedFor !== null) {
      const key = `${id}@${state.term}`
      const earlier = this.#votes.get(key)
      if (earlier !== undefined && earlier !== state.votedFor) {
        this.violations.push(`t=${this.#now}: ${id} voted for ${earlier} and ${state.votedFor} in term ${state.term}`)
      }
      this.#votes.set(key, state.votedFor)
    }
    node.persisted = { ...state }
  }

  #transmit (from: string, to: string, message: RaftMessage): void {
    const key = `${from}:${message.type}`
    this.#sent.set(key, (this.#sent.get(key) ?? 0) + 1)
    const frame = JSON.stringify(toWire(message))
    if (frame.length > RAFT_LIMITS.maxFrameBytes) this.violations.push(`${from} sent a ${frame.length}-byte frame`)
    if (!this.#nodes.has(to) || this.prng.next() < this.network.lossRate) return
    const copies = this.prng.next() < this.network.duplicateRate ? 2 : 1
    for (let copy = 0; copy < copies; copy++) {
      const { minDelayMs, maxDelayMs } = this.network
      this.#queue.push(this.#now + minDelayMs + this.prng.next() * (maxDelayMs - minDelayMs), { kind: 'deliver', from, to, frame })
    }
  }

  #scheduleTick (id: string): void {
    const node = this.#node(id)
    if (node.election === null) return
    const at = Math.max(node.election.nextDeadline, this.#now)
    if (at === node.tickAt) return
    node.tickAt = at
    node.tickToken++
    this.#queue.push(at, { kind: 'tick', node: id, token: node.tickToken })
  }
}

/** A min-heap of timed events; equal times pop in insertion order, keeping runs deterministic. */
class EventQueue<T> {
  readonly #heap: Array<{ at: number, order: number, item: T }> = []
  #inserted = 0

  /** The time of the earliest event, or Infinity when empty. */
  get nextAt (): number { return this.#heap[0]?.at ?? Infinity }

  push (at: number, item: T): void {
    this.#heap.push({ at, order: this.#inserted++, item })
    let index = this.#heap.length - 1
    while (index > 0) {
      const parent = (index - 1) >> 1
      if (!this.#before(index, parent)) break
      this.#swap(index, parent)
      index = parent
    }
  }

  pop (): { at: number, item: T } | undefined {
    const top = this.#heap[0]
    const last = this.#heap.pop()
    if (top === undefined || last === undefined) return undefined
    if (this.#heap.length > 0) {
      this.#heap[0] = last
      let index = 0
      for (;;) {
        const left = 2 * index + 1
        let smallest = index
        if (left < this.#heap.length && this.#before(left, smallest)) smallest = left
        if (left + 1 < this.#heap.length && this.#before(left + 1, smallest)) smallest = left + 1
        if (smallest === index) break
        this.#swap(index, smallest)
        index = smallest
      }
    }
    return { at: top.at, item: top.item }
  }

  #before (a: number, b: number): boolean {
    const x = this.#heap[a]
    const y = this.#heap[b]
    return x !== undefined && y !== undefined && (x.at < y.at || (x.at === y.at && x.order < y.order))
  }

  #swap (a: number, b: number): void {
    const x = this.#heap[a]
    const y = this.#heap[b]
    if (x === undefined || y === undefined) return
    this.#heap[a] = y
    this.#heap[b] = x
  }
}
