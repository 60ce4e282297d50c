/** Swarm events for logs and the control API: kept as a bounded, ordered history. */
export type SwarmEvent =
  | { type: 'leader-changed', swarm: string, leader: string | null, term: number, at: number }
  | { type: 'member-joined', swarm: string, member: string, at: number }
  | { type: 'member-left', swarm: string, member: string, at: number }
  | { type: 'member-unreachable', swarm: string, member: string, at: number }
  | { type: 'member-reachable', swarm: string, member: string, at: number }

const MAX_EVENTS = 500

export class SwarmEventLog {
  readonly #events: Array<SwarmEvent & { seq: number }> = []
  readonly #listeners = new Set<(event: SwarmEvent & { seq: number }) => void>()
  #seq = 0

  push (event: SwarmEvent): void {
    const stamped = { ...event, seq: ++this.#seq }
    this.#events.push(stamped)
    if (this.#events.length > MAX_EVENTS) this.#events.shift()
    for (const listener of this.#listeners) listener(stamped)
  }

  /** Events after `afterSeq`, optionally for one swarm. */
  since (afterSeq = 0, swarm?: string): Array<SwarmEvent & { seq: number }> {
    return this.#events.filter((event) => event.seq > afterSeq && (swarm === undefined || event.swarm === swarm))
  }

  subscribe (listener: (event: SwarmEvent & { seq: number }) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }
}
