import type { Claim } from './records.ts'
import type { TaskView } from './task-view.ts'
import { eligible, freeSlots, type Candidate } from './worker-choice.ts'

/**
 * Mesh topology: members claim queued tasks for themselves and the leader confirms one claimant
 * per task by assigning it. A claim names the attempt in force when it was made (`after`), so a
 * claim from an earlier round never wins a later one. Pure functions, both sides.
 */

/** A claim as the leader holds it: when the leader first saw it, on its own clock. */
export interface SeenClaim {
  peer: string
  claim: Claim
  seenAt: number
}

/** The leader's pick: the first claim it saw for this round from a member that can take the task. */
export function chooseClaimant (claims: readonly SeenClaim[], after: string | null, role: string, candidates: readonly Candidate[], avoid: readonly string[]): string | undefined {
  const byPeer = new Map(candidates.map((candidate) => [candidate.peer, candidate]))
  const valid = claims.filter(({ peer, claim }) => {
    const candidate = byPeer.get(peer)
    return claim.after === after && candidate !== undefined && eligible(candidate, role) && freeSlots(candidate) > 0
  })
  const avoided = (peer: string): number => avoid.includes(peer) ? 1 : 0
  valid.sort((a, b) => avoided(a.peer) - avoided(b.peer) || a.seenAt - b.seenAt || (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0))
  return valid[0]?.peer
}

export interface ClaimInput {
  self: string
  /** Roles this node offers in the swarm; empty means any. */
  roles: readonly string[]
  /** Queued tasks of the swarm, oldest first. */
  queued: readonly TaskView[]
  /** Slots this node has free after its running and waiting agents. */
  freeSlots: number
}

/** Whether this node's claim on the task's current round is already out. */
function hasClaimed (view: TaskView, self: string): boolean {
  const claim = view.claims.get(self)
  return claim !== undefined && view.next !== undefined && claim.after === view.next.after
}

/**
 * Tasks this node should claim now: never more than its free slots, counting claims already out
 * (each may still be confirmed), so a busy node leaves queued work to the others.
 */
export function tasksToClaim (input: ClaimInput): TaskView[] {
  const offered = (role: string | undefined): boolean => role !== undefined && (input.roles.length === 0 || input.roles.includes(role))
  const claimable = input.queued.filter((view) => view.next !== undefined && offered(view.spec.stages[view.next.stage]))
  const outstanding = claimable.filter((view) => hasClaimed(view, input.self)).length
  let room = input.freeSlots - outstanding
  const chosen: TaskView[] = []
  for (const view of claimable) {
    if (room <= 0) break
    if (hasClaimed(view, input.self)) continue
    chosen.push(view)
    room--
  }
  return chosen
}
