import type { Claim } from './records.ts'
import type { TaskView } from './task-view.ts'

/**
 * Signs of life of open attempts, and first sightings of mesh claims, as this node observes them on
 * its own monotonic clock. Peers' clocks are never compared: an attempt is silent when its records
 * stop changing here, however its worker's clock reads.
 */
export class ActivityTracker {
  readonly #attempts = new Map<string, { signature: number, at: number }>()
  readonly #claims = new Map<string, number>()

  /** Records what changed since the last observation; forgets attempts and claims that are settled. */
  observe (views: Iterable<TaskView>, now: number): void {
    const openAttempts = new Set<string>()
    const liveClaims = new Set<string>()
    for (const view of views) {
      const current = view.current
      if (current !== undefined && current.assignment.worker !== null && current.result === undefined) {
        const key = `${view.id}/${current.id}`
        openAttempts.add(key)
        // -1 until the worker writes its first progress: the assignment itself is the first sign.
        const signature = current.progress?.seq ?? -1
        const known = this.#attempts.get(key)
        if (known === undefined || known.signature !== signature) this.#attempts.set(key, { signature, at: now })
      }
      if (view.state === 'submitted') {
        for (const [peer, claim] of view.claims) {
          const key = claimKey(view.id, peer, claim)
          liveClaims.add(key)
          if (!this.#claims.has(key)) this.#claims.set(key, now)
        }
      }
    }
    for (const key of this.#attempts.keys()) if (!openAttempts.has(key)) this.#attempts.delete(key)
    for (const key of this.#claims.keys()) if (!liveClaims.has(key)) this.#claims.delete(key)
  }

  /** 0 for an attempt never observed (it is new to this node). */
  silentForMs (taskId: string, attemptId: string, now: number): number {
    const seen = this.#attempts.get(`${taskId}/${attemptId}`)
    return seen === undefined ? 0 : now - seen.at
  }

  claimSeenAt (taskId: string, peer: string, claim: Claim, now: number): number {
    return this.#claims.get(claimKey(taskId, peer, claim)) ?? now
  }
}

function claimKey (taskId: string, peer: string, claim: Claim): string {
  return `${taskId}/${peer}/${claim.after ?? '-'}`
}
