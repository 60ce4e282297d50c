import { resolveElectionConfig, validateMembers, type ElectionConfig, type ResolvedElectionConfig } from './config.ts'
import type { Heartbeat, HeartbeatAck, PreVoteRequest, PreVoteResponse, RaftMessage, VoteRequest, VoteResponse } from './messages.ts'
import type { ElectionEvent, Envelope, Output } from './output.ts'
import { validatePersistentState, type PersistentState, type Role } from './state.ts'

export interface ElectionStart {
  /** Exactly what the driver last persisted from an Output (INITIAL_STATE on first start). */
  persisted: PersistentState
  /** Uniform in [0, 1); randomizes election timeouts so candidates rarely collide. */
  random: () => number
  now: number
}

/**
 * Raft leader election without a log: a pure state machine driven by `tick`, `receive` and
 * `setMembers`. It never reads a clock or does I/O; each call returns what the driver must do.
 */
export class Election {
  readonly #config: ResolvedElectionConfig
  readonly #random: () => number
  #members: string[]
  #role: Role = 'follower'
  #term: number
  #votedFor: string | null
  #leader: string | null = null
  /** When a follower last heard its leader: within electionTimeoutMinMs it refuses to help depose it. */
  #leaderContactAt: number | null = null
  /** Leader: last ack per voter. Follower: last heartbeat from the leader. */
  readonly #lastHeardAt = new Map<string, number>()
  /** Grants collected in the current pre-vote or vote round, self included. */
  #grants = new Set<string>()
  #electionDeadline: number
  /**
   * Vote rounds since this node last had or heard a leader: each doubles the retry window (up to
   * 16 times), so when votes come back slower than the window, candidates stop cutting each
   * other's rounds short.
   */
  #failedRounds = 0
  #nextHeartbeatAt = 0
  /** Leader: acks are not expected before this (leadership start or last voter change). */
  #quorumGraceFrom = 0
  #heartbeatSeq = 0
  /** The (term, seq) of the heartbeat whose member list we adopted: older ones arriving late must not undo it. */
  #membersFrom = { term: -1, seq: -1 }
  #outbox: Envelope[] = []
  /** Non-voting followers: heartbeats reach them (so they learn the leader), their acks count for nothing. */
  #followers: string[] = []

  constructor (config: ElectionConfig, start: ElectionStart) {
    this.#config = resolveElectionConfig(config)
    this.#members = validateMembers(config.members)
    const persisted = validatePersistentState(start.persisted)
    this.#term = persisted.term
    this.#votedFor = persisted.votedFor
    this.#random = start.random
    this.#electionDeadline = this.#randomElectionDeadline(start.now)
  }

  get role (): Role { return this.#role }
  get term (): number { return this.#term }
  get leader (): string | null { return this.#leader }
  get votedFor (): string | null { return this.#votedFor }
  get members (): readonly string[] { return [...this.#members] }

  /** Sets who else hears the leader's heartbeats without voting (a swarm's workers). */
  setFollowers (followers: readonly string[]): void {
    this.#followers = [...followers]
  }

  /** Leader side: when `member` last acked a heartbeat. Follower side: when the leader's last heartbeat arrived. */
  lastHeardAt (member: string): number | null {
    return this.#lastHeardAt.get(member) ?? null
  }

  /**
   * Term fencing: work issued by a leader carries its term, and a member refuses it when this is
   * true, because a newer leader may already have issued conflicting work.
   */
  isStale (term: number): boolean {
    return term < this.#term
  }

  /** The earliest time at which `tick` has something to do; drivers can sleep until then. */
  get nextDeadline (): number {
    if (this.#role !== 'leader') return this.#electionDeadline
    return this.#config.checkQuorum ? Math.min(this.#nextHeartbeatAt, this.#quorumContactExpiry()) : this.#nextHeartbeatAt
  }

  tick (now: number): Output {
    return this.#step(() => {
      if (this.#role === 'leader') {
        this.#leaderTick(now)
      } else if (now >= this.#electionDeadline) {
        this.#electionTimeout(now)
      }
    })
  }

  /** `from` must be the transport-authenticated sender: messages naming someone else are ignored. */
  receive (now: number, from: string, message: RaftMessage): Output {
    return this.#step(() => {
      if (from === this.#config.self) return
      switch (message.type) {
        case 'prevote': this.#onPreVoteRequest(now, from, message); break
        case 'prevote-reply': this.#onPreVoteResponse(now, from, message); break
        case 'vote': this.#onVoteRequest(now, from, message); break
        case 'vote-reply': this.#onVoteResponse(now, from, message); break
        case 'heartbeat': this.#onHeartbeat(now, from, message); break
        case 'heartbeat-ack': this.#onHeartbeatAck(now, from, message); break
      }
    })
  }

  /**
   * Replaces the voter list. Change at most one voter at a time (and let it settle) so that old and
   * new majorities always overlap. A leader announces the list at once to everyone, removed members
   * included; a leader that removed itself steps down right after that last heartbeat.
   */
  setMembers (members: readonly string[], now: number): Output {
    const next = validateMembers(members)
    return this.#step(() => {
      const removed = this.#members.filter((member) => !next.includes(member))
      const leading = this.#role === 'leader'
      this.#applyMembers(next, now)
      if (leading) this.#broadcastHeartbeat(now, removed)
    })
  }

  /** Runs one transition and reports the difference it made. */
  #step (transition: () => void): Output {
    const before = { term: this.#term, votedFor: this.#votedFor, role: this.#role, leader: this.#leader, members: this.#members }
    this.#outbox = []
    transition()
    const events: ElectionEvent[] = []
    if (this.#term !== before.term) events.push({ type: 'term-changed', term: this.#term })
    if (this.#role !== before.role) events.push({ type: 'role-changed', role: this.#role, term: this.#term })
    // Re-elected in a newer term is a new leadership too.
    const newLeadership = this.#leader !== before.leader || (this.#leader !== null && this.#term !== before.term)
    if (newLeadership) events.push({ type: 'leader-changed', leader: this.#leader, term: this.#term })
    if (this.#members !== before.members) events.push({ type: 'members-changed', members: [...this.#members] })
    const output: Output = { messages: this.#outbox, events }
    if (this.#term !== before.term || this.#votedFor !== before.votedFor) {
      output.persist = { term: this.#term, votedFor: this.#votedFor }
    }
    this.#outbox = []
    return output
  }

  #electionTimeout (now: number): void {
    // The leader is presumed gone: stop deferring to it.
    this.#leader = null
    this.#leaderContactAt = null
    if (!this.#isVoter(this.#config.self)) {
      this.#electionDeadline = this.#randomElectionDeadline(now)
      return
    }
    if (this.#config.preVote) this.#startPreVote(now)
    else this.#startElection(now)
  }

  #startPreVote (now: number): void {
    this.#role = 'pre-candidate'
    this.#grants = new Set([this.#config.self])
    this.#electionDeadline = this.#randomElectionDeadline(now)
    if (this.#hasQuorum(this.#grants)) {
      this.#startElection(now)
      return
    }
    this.#sendToOtherVoters({ type: 'prevote', term: this.#term + 1, candidate: this.#config.self })
  }

  #startElection (now: number): void {
    this.#role = 'candidate'
    this.#term += 1
    this.#votedFor = this.#config.self
    this.#leader = null
    this.#grants = new Set([this.#config.self])
    // A won pre-vote means a majority hears no leader; without pre-vote we cannot know that.
    this.#electionDeadline = this.#config.preVote ? this.#retryDeadline(now) : this.#randomElectionDeadline(now)
    if (this.#hasQuorum(this.#grants)) {
      this.#becomeLeader(now)
      return
    }
    this.#sendToOtherVoters({ type: 'vote', term: this.#term, candidate: this.#config.self })
  }

  #becomeLeader (now: number): void {
    this.#failedRounds = 0
    this.#role = 'leader'
    this.#leader = this.#config.self
    this.#leaderContactAt = null
    this.#lastHeardAt.clear()
    this.#quorumGraceFrom = now
    this.#heartbeatSeq = 0
    this.#broadcastHeartbeat(now, [])
  }

  #becomeFollower (now: number, term: number, leader: string | null): void {
    if (term > this.#term) {
      this.#term = term
      this.#votedFor = null
    }
    if (this.#role === 'leader') this.#lastHeardAt.clear()
    this.#role = 'follower'
    this.#grants = new Set()
    this.#leader = leader
    if (leader !== null) this.#failedRounds = 0
    this.#leaderContactAt = leader === null ? null : now
    this.#electionDeadline = this.#randomElectionDeadline(now)
  }

  #leaderTick (now: number): void {
    if (this.#config.checkQuorum && now >= this.#quorumContactExpiry()) {
      this.#becomeFollower(now, this.#term, null)
      return
    }
    if (now >= this.#nextHeartbeatAt) this.#broadcastHeartbeat(now, [])
  }

  #broadcastHeartbeat (now: number, alsoTo: readonly string[]): void {
    this.#heartbeatSeq += 1
    const heartbeat: Heartbeat = { type: 'heartbeat', term: this.#term, leader: this.#config.self, members: [...this.#members], seq: this.#heartbeatSeq }
    for (const member of new Set([...this.#members, ...this.#followers, ...alsoTo])) {
      if (member !== this.#config.self) this.#send(member, heartbeat)
    }
    this.#nextHeartbeatAt = now + this.#config.heartbeatIntervalMs
  }

  #onPreVoteRequest (now: number, from: string, request: PreVoteRequest): void {
    const granted = request.candidate === from &&
      request.term > this.#term &&
      this.#isVoter(from) &&
      this.#isVoter(this.#config.self) &&
      !this.#hasLiveLeader(now)
    this.#send(from, { type: 'prevote-reply', term: granted ? request.term : this.#term, granted })
  }

  #onPreVoteResponse (now: number, from: string, response: PreVoteResponse): void {
    // A granted reply carries the hypothetical term: adopting it would be exactly the inflation pre-vote prevents.
    if (!response.granted) {
      if (response.term > this.#term) this.#becomeFollower(now, response.term, null)
      return
    }
    if (this.#role !== 'pre-candidate' || response.term !== this.#term + 1 || !this.#isVoter(from)) return
    this.#grants.add(from)
    if (this.#hasQuorum(this.#grants)) this.#startElection(now)
  }

  #onVoteRequest (now: number, from: string, request: VoteRequest): void {
    const eligible = request.candidate === from &&
      request.term >= this.#term &&
      this.#isVoter(from) &&
      this.#isVoter(this.#config.self) &&
      // Stickiness: while our leader is alive we neither vote nor adopt the candidate's term.
      !this.#hasLiveLeader(now)
    if (eligible && request.term > this.#term) this.#becomeFollower(now, request.term, null)
    const granted = eligible && (this.#votedFor === null || this.#votedFor === from)
    if (granted) {
      this.#votedFor = from
      this.#electionDeadline = this.#randomElectionDeadline(now)
    }
    this.#send(from, { type: 'vote-reply', term: this.#term, granted })
  }

  #onVoteResponse (now: number, from: string, response: VoteResponse): void {
    if (response.term > this.#term) {
      this.#becomeFollower(now, response.term, null)
      return
    }
    if (this.#role !== 'candidate' || response.term !== this.#term || !response.granted || !this.#isVoter(from)) return
    this.#grants.add(from)
    if (this.#hasQuorum(this.#grants)) this.#becomeLeader(now)
  }

  #onHeartbeat (now: number, from: string, heartbeat: Heartbeat): void {
    if (heartbeat.leader !== from) return
    if (heartbeat.term < this.#term) {
      // Our newer term in the ack makes a stale leader step down.
      this.#send(from, { type: 'heartbeat-ack', term: this.#term, seq: heartbeat.seq })
      return
    }
    // Only one leader can win a term, so this is a forged or misrouted heartbeat.
    if (heartbeat.term === this.#term && this.#role === 'leader') return
    this.#becomeFollower(now, heartbeat.term, from)
    this.#lastHeardAt.set(from, now)
    const newer = heartbeat.term > this.#membersFrom.term || (heartbeat.term === this.#membersFrom.term && heartbeat.seq > this.#membersFrom.seq)
    if (heartbeat.members !== undefined && newer) {
      this.#membersFrom = { term: heartbeat.term, seq: heartbeat.seq }
      this.#applyMembers(heartbeat.members, now)
    }
    this.#send(from, { type: 'heartbeat-ack', term: this.#term, seq: heartbeat.seq })
  }

  #onHeartbeatAck (now: number, from: string, ack: HeartbeatAck): void {
    if (ack.term > this.#term) {
      this.#becomeFollower(now, ack.term, null)
      return
    }
    if (this.#role !== 'leader' || ack.term !== this.#term || ack.seq > this.#heartbeatSeq || !this.#isVoter(from)) return
    this.#lastHeardAt.set(from, now)
  }

  #applyMembers (members: readonly string[], now: number): void {
    if (sameMembers(members, this.#members)) return
    this.#members = [...members]
    if (!this.#isVoter(this.#config.self)) {
      // A node outside the voter list may follow a leader but never campaigns.
      if (this.#role !== 'follower') this.#becomeFollower(now, this.#term, null)
      return
    }
    if (this.#role === 'leader') {
      for (const member of [...this.#lastHeardAt.keys()]) {
        if (!this.#isVoter(member)) this.#lastHeardAt.delete(member)
      }
      // A new voter gets a full window to ack before it counts against the quorum.
      this.#quorumGraceFrom = now
    }
    if (this.#role === 'pre-candidate' || this.#role === 'candidate') {
      this.#grants = new Set([...this.#grants].filter((voter) => this.#isVoter(voter)))
    }
    // A sole voter needs nobody's agreement: campaign at the next tick.
    if (this.#role !== 'leader' && this.#members.length === 1) this.#electionDeadline = now
  }

  /** True while we lead, or heard our leader within the minimum election timeout. */
  #hasLiveLeader (now: number): boolean {
    if (this.#role === 'leader') return true
    return this.#leader !== null && this.#leaderContactAt !== null && now - this.#leaderContactAt < this.#config.electionTimeoutMinMs
  }

  /**
   * When the leader will no longer have heard a majority (itself included) within the minimum
   * election timeout, counting each voter's last ack.
   */
  #quorumContactExpiry (): number {
    const contacts = this.#members
      .map((member) => member === this.#config.self ? Infinity : (this.#lastHeardAt.get(member) ?? -Infinity))
      .sort((a, b) => b - a)
    const quorumContact = contacts[quorumSize(this.#members.length) - 1] ?? -Infinity
    return Math.max(quorumContact, this.#quorumGraceFrom) + this.#config.electionTimeoutMinMs
  }

  #randomElectionDeadline (now: number): number {
    if (this.#members.length === 1 && this.#isVoter(this.#config.self)) return now
    const { electionTimeoutMinMs: min, electionTimeoutMaxMs: max } = this.#config
    return now + min + this.#random() * (max - min)
  }

  /**
   * Deadline of a vote round that follows a won pre-vote: a majority hears no leader, so if this
   * round wins nobody's majority (a split vote, lost messages) the next attempt may come sooner
   * without disrupting anyone: one heartbeat interval (room for a winner's first heartbeat to
   * arrive) plus a random share of the timeout spread. A split vote then costs 50–150 ms instead of
   * another 150–300 ms with the default timings. The window backs off with each failed round: with
   * 50–150 ms one-way delays, 41 of 50 simulated failovers found no leader within 30 s without it.
   */
  #retryDeadline (now: number): number {
    const { electionTimeoutMinMs: min, electionTimeoutMaxMs: max, heartbeatIntervalMs: heartbeat } = this.#config
    const backoff = 2 ** Math.min(this.#failedRounds++, 4)
    return now + (heartbeat + this.#random() * Math.max(0, max - min - heartbeat)) * backoff
  }

  #hasQuorum (voters: ReadonlySet<string>): boolean {
    let count = 0
    for (const voter of voters) if (this.#isVoter(voter)) count++
    return count >= quorumSize(this.#members.length)
  }

  #isVoter (member: string): boolean {
    return this.#members.includes(member)
  }

  #sendToOtherVoters (message: RaftMessage): void {
    for (const member of this.#members) {
      if (member !== this.#config.self) this.#send(member, message)
    }
  }

  #send (to: string, message: RaftMessage): void {
    this.#outbox.push({ to, message })
  }
}

function quorumSize (voters: number): number {
  return Math.floor(voters / 2) + 1
}

function sameMembers (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((member, index) => member === b[index])
}
