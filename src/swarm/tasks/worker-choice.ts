import type { Topology } from '../../../protocols/swarm.ts'
import type { NextStep } from './task-view.ts'

/** Which member gets a task, per topology. Pure: the leader's view of the swarm goes in, a PeerId (or none yet) comes out. */

export interface Candidate {
  peer: string
  /** Roles the member offers; empty means any. */
  roles: readonly string[]
  /** Agents the member runs at once (0 until it has published its capacity). */
  capacity: number
  /** Attempts currently given to it, in every swarm. */
  load: number
  /** Connected to the leader (or the leader itself). */
  alive: boolean
}

/** Past outcomes of one member in one role. */
export interface Outcomes {
  successes: number
  failures: number
}

export interface ChoiceInput {
  topology: Topology
  taskId: string
  role: string
  step: Pick<NextStep, 'avoid' | 'ringAfter'>
  /** Swarm members in ring (join) order. */
  candidates: readonly Candidate[]
  /** Adaptive: outcomes by member for this role. */
  history?: ReadonlyMap<string, Outcomes>
}

export function offers (candidate: Candidate, role: string): boolean {
  return candidate.roles.length === 0 || candidate.roles.includes(role)
}

export function eligible (candidate: Candidate, role: string): boolean {
  return candidate.alive && candidate.capacity > 0 && offers(candidate, role)
}

export function freeSlots (candidate: Candidate): number {
  return Math.max(0, candidate.capacity - candidate.load)
}

/** Laplace-smoothed success rate: an unknown member starts at 1/2, not at 0 or 1. */
export function successRate (record: Outcomes | undefined): number {
  return ((record?.successes ?? 0) + 1) / ((record?.successes ?? 0) + (record?.failures ?? 0) + 2)
}

/** FNV-1a: spreads ring start positions over the members without shared state. */
export function hashOf (text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

type Ranked = { candidate: Candidate, index: number }

function available (input: ChoiceInput): Ranked[] {
  return input.candidates
    .map((candidate, index) => ({ candidate, index }))
    .filter(({ candidate }) => eligible(candidate, input.role) && freeSlots(candidate) > 0)
}

/** Members that already failed this stage go last, whatever else they have going for them. */
function bestBy (input: ChoiceInput, ranked: Ranked[], score: (candidate: Candidate) => number): string | undefined {
  const avoided = (candidate: Candidate): number => input.step.avoid.includes(candidate.peer) ? 1 : 0
  const sorted = [...ranked].sort((a, b) =>
    avoided(a.candidate) - avoided(b.candidate) ||
    score(b.candidate) - score(a.candidate) ||
    a.candidate.load - b.candidate.load ||
    a.index - b.index)
  return sorted[0]?.candidate.peer
}

/** Hierarchical: the member with the most free slots. */
function mostFree (input: ChoiceInput): string | undefined {
  return bestBy(input, available(input), freeSlots)
}

/** Adaptive: past success in this role, weighted by the share of the member's capacity still free. */
function bestScore (input: ChoiceInput): string | undefined {
  return bestBy(input, available(input), (candidate) =>
    successRate(input.history?.get(candidate.peer)) * freeSlots(candidate) / candidate.capacity)
}

/**
 * Ring: a stage goes to the next member after the previous stage's worker, skipping members that
 * cannot take it at all but waiting for a busy one. A first stage starts at a position hashed
 * from the task id and takes the first member there with a free slot.
 */
function ringSuccessor (input: ChoiceInput): string | undefined {
  const members = input.candidates
  if (members.length === 0) return undefined
  const after = input.step.ringAfter === null ? -1 : members.findIndex((candidate) => candidate.peer === input.step.ringAfter)
  if (after === -1) {
    const start = hashOf(input.taskId) % members.length
    for (let i = 0; i < members.length; i++) {
      const candidate = members[(start + i) % members.length] as Candidate
      if (eligible(candidate, input.role) && freeSlots(candidate) > 0) return candidate.peer
    }
    return undefined
  }
  for (let i = 1; i <= members.length; i++) {
    const candidate = members[(after + i) % members.length] as Candidate
    if (!eligible(candidate, input.role)) continue
    return freeSlots(candidate) > 0 ? candidate.peer : undefined
  }
  return undefined
}

/**
 * The member to assign to now, or undefined to wait. In a mesh, fresh work goes to claimants (see
 * claims.ts); this choice only serves recovery, when a lost worker's attempt must move.
 */
export function chooseWorker (input: ChoiceInput): string | undefined {
  switch (input.topology) {
    case 'hierarchical': return mostFree(input)
    case 'adaptive': return bestScore(input)
    case 'ring': return ringSuccessor(input)
    case 'mesh': return mostFree(input)
  }
}
