import { RAFT_LIMITS } from './messages.ts'

export interface ElectionConfig {
  /** This node's member id (its PeerId). */
  self: string
  /** The voters, including `self` unless this node only follows. */
  members: readonly string[]
  electionTimeoutMinMs?: number
  electionTimeoutMaxMs?: number
  heartbeatIntervalMs?: number
  /** A leader that cannot reach a majority steps down. */
  checkQuorum?: boolean
  /** Ask for votes hypothetically before bumping the term. */
  preVote?: boolean
}

export type ResolvedElectionConfig = Required<Omit<ElectionConfig, 'members'>>

export const ELECTION_DEFAULTS = {
  electionTimeoutMinMs: 150,
  electionTimeoutMaxMs: 300,
  heartbeatIntervalMs: 50,
  checkQuorum: true,
  preVote: true
} as const

export function resolveElectionConfig (config: ElectionConfig): ResolvedElectionConfig {
  validateMemberId(config.self, 'self')
  const min = config.electionTimeoutMinMs ?? ELECTION_DEFAULTS.electionTimeoutMinMs
  const max = config.electionTimeoutMaxMs ?? ELECTION_DEFAULTS.electionTimeoutMaxMs
  const heartbeat = config.heartbeatIntervalMs ?? ELECTION_DEFAULTS.heartbeatIntervalMs
  if (!(Number.isFinite(min) && min > 0)) throw new RangeError('electionTimeoutMinMs must be a positive number')
  if (!(Number.isFinite(max) && max >= min)) throw new RangeError('electionTimeoutMaxMs must be a number ≥ electionTimeoutMinMs')
  // Followers would time out between two heartbeats otherwise.
  if (!(Number.isFinite(heartbeat) && heartbeat > 0 && heartbeat < min)) {
    throw new RangeError('heartbeatIntervalMs must be positive and below electionTimeoutMinMs')
  }
  return {
    self: config.self,
    electionTimeoutMinMs: min,
    electionTimeoutMaxMs: max,
    heartbeatIntervalMs: heartbeat,
    checkQuorum: config.checkQuorum ?? ELECTION_DEFAULTS.checkQuorum,
    preVote: config.preVote ?? ELECTION_DEFAULTS.preVote
  }
}

/** Returns a copy of a voter list after checking it could travel in a heartbeat. */
export function validateMembers (members: readonly string[]): string[] {
  if (members.length > RAFT_LIMITS.maxMembers) throw new RangeError(`at most ${RAFT_LIMITS.maxMembers} members`)
  members.forEach((member, index) => { validateMemberId(member, `members.${index}`) })
  if (new Set(members).size !== members.length) throw new RangeError('members must be unique')
  return [...members]
}

function validateMemberId (id: unknown, field: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > RAFT_LIMITS.maxMemberIdChars) {
    throw new RangeError(`${field} must be a string of 1–${RAFT_LIMITS.maxMemberIdChars} characters`)
  }
}

