import { Election } from '../../protocols/raft/election.ts'
import type { RaftMessage } from '../../protocols/raft/messages.ts'
import type { ElectionEvent, Output } from '../../protocols/raft/output.ts'
import type { PersistentState, Role } from '../../protocols/raft/state.ts'
import type { ElectionStateStore, SwarmTransport } from './ports.ts'

export interface ElectionTiming {
  electionTimeoutMinMs: number
  electionTimeoutMaxMs: number
  heartbeatIntervalMs: number
}

export interface SwarmMemberOptions {
  swarm: string
  self: string
  voters: string[]
  /** Members that do not vote: they follow the leader's heartbeats. */
  workers: string[]
  persisted: PersistentState
  timing: ElectionTiming
  stateStore: ElectionStateStore
  transport: SwarmTransport
  onEvents: (events: ElectionEvent[]) => void
  /** The election state could not be persisted: this seat must stop and be rebuilt from disk. */
  onError: (err: Error) => void
  /** Monotonic milliseconds: wall-clock jumps must not fire or suppress elections. */
  now?: () => number
  random?: () => number
}

/**
 * This node's seat in one swarm's election: drives the pure state machine with the clock and the
 * network, and applies its outputs in order — persist, then send, then report.
 */
export class SwarmMember {
  readonly swarm: string
  readonly #election: Election
  readonly #options: SwarmMemberOptions
  readonly #now: () => number
  /** Outputs are applied strictly in order, so a message never leaves before the state it depends on is on disk. */
  #applying: Promise<void> = Promise.resolve()
  /** After a failed save the in-memory vote may differ from disk: nothing more may be said. */
  #failed = false

  constructor (options: SwarmMemberOptions) {
    this.swarm = options.swarm
    this.#options = options
    this.#now = options.now ?? (() => performance.now())
    this.#election = new Election(
      { self: options.self, members: options.voters, ...options.timing },
      { persisted: options.persisted, random: options.random ?? Math.random, now: this.#now() }
    )
    this.#election.setFollowers(options.workers)
  }

  get role (): Role { return this.#election.role }
  get term (): number { return this.#election.term }
  get leader (): string | null { return this.#election.leader }
  get voters (): readonly string[] { return this.#election.members }
  /** Milliseconds since `member` was last heard from (see Election.lastHeardAt), or null. */
  silentForMs (member: string): number | null {
    const heard = this.#election.lastHeardAt(member)
    return heard === null ? null : this.#now() - heard
  }
  isStale (term: number): boolean { return this.#election.isStale(term) }

  tick (): void {
    if (this.#failed) return
    if (this.#now() >= this.#election.nextDeadline) this.#apply(this.#election.tick(this.#now()))
  }

  receive (from: string, message: RaftMessage): void {
    if (this.#failed) return
    this.#apply(this.#election.receive(this.#now(), from, message))
  }

  setVoters (voters: string[]): void {
    const current = this.#election.members
    if (current.length === voters.length && current.every((member, i) => member === voters[i])) return
    this.#apply(this.#election.setMembers(voters, this.#now()))
  }

  setWorkers (workers: string[]): void {
    this.#election.setFollowers(workers)
  }

  /** Resolves once every output so far has been applied. */
  async settled (): Promise<void> {
    await this.#applying
  }

  #apply (output: Output): void {
    if (output.messages.length === 0 && output.events.length === 0 && output.persist === undefined) return
    const { stateStore, transport, swarm } = this.#options
    this.#applying = this.#applying.then(async () => {
      if (output.persist !== undefined) await stateStore.save(swarm, output.persist)
      for (const { to, message } of output.messages) transport.sendRaft(to, swarm, message)
      if (output.events.length > 0) this.#options.onEvents(output.events)
    }).catch((err: Error) => {
      // Not persisted means not safe to speak: this seat goes silent and is rebuilt from disk.
      if (this.#failed) return
      this.#failed = true
      this.#options.onError(err)
    })
  }
}
