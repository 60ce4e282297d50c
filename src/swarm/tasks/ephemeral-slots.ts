import { randomBytes } from 'node:crypto'

/**
 * Ephemeral agents: extra agent slots on this node, each for one role in one swarm, alive for a
 * TTL and a token budget. A slot takes tasks of its role while alive; when its time or tokens run
 * out it ends, and the agent running in it is stopped (its attempt moves elsewhere). Slots live in
 * this process only: a restart ends them too.
 */

export interface SlotRequest {
  swarm: string
  role: string
  ttlMs: number
  maxTokens: number
}

export interface SlotInfo extends SlotRequest {
  id: string
  createdAt: number
  expiresAt: number
  /** Milliseconds left, as of when the info was taken. */
  leftMs: number
  usedTokens: number
  /** The task it runs now, if any. */
  task: string | null
}

interface Slot {
  info: Omit<SlotInfo, 'leftMs'>
  timer: NodeJS.Timeout
}

export const MAX_SLOT_TTL_MS = 7 * 86_400_000
export const MAX_SLOTS = 32

export class EphemeralSlots {
  readonly #slots = new Map<string, Slot>()
  readonly #onEnd: (slot: SlotInfo, why: string) => void

  /** `onEnd` runs once per slot when it ends (time or tokens used up). */
  constructor (onEnd: (slot: SlotInfo, why: string) => void) {
    this.#onEnd = onEnd
  }

  get size (): number {
    return this.#slots.size
  }

  spawn (request: SlotRequest): SlotInfo {
    const createdAt = Date.now()
    const id = `eph-${randomBytes(4).toString('hex')}`
    const timer = setTimeout(() => { this.end(id, `its time (${Math.round(request.ttlMs / 1000)} s) is up`) }, request.ttlMs)
    timer.unref()
    this.#slots.set(id, { info: { ...request, id, createdAt, expiresAt: createdAt + request.ttlMs, usedTokens: 0, task: null }, timer })
    return this.#view(this.#slots.get(id) as Slot)
  }

  list (): SlotInfo[] {
    return [...this.#slots.values()].map((slot) => this.#view(slot))
  }

  /** An idle slot for this swarm and role, now marked busy with `task`; undefined if none. */
  claim (swarm: string, role: string, task: string): SlotInfo | undefined {
    for (const slot of this.#slots.values()) {
      if (slot.info.task === null && slot.info.swarm === swarm && slot.info.role === role) {
        slot.info.task = task
        return this.#view(slot)
      }
    }
    return undefined
  }

  /** Tokens the slot may still spend. */
  tokensLeft (id: string): number {
    const slot = this.#slots.get(id)
    return slot === undefined ? 0 : Math.max(0, slot.info.maxTokens - slot.info.usedTokens)
  }

  /** The slot's agent finished a task: count its tokens; the slot ends if they are used up. */
  release (id: string, tokens: number): void {
    const slot = this.#slots.get(id)
    if (slot === undefined) return
    slot.info.task = null
    slot.info.usedTokens += tokens
    if (slot.info.usedTokens >= slot.info.maxTokens) this.end(id, `its ${slot.info.maxTokens} tokens are used`)
  }

  end (id: string, why: string): void {
    const slot = this.#slots.get(id)
    if (slot === undefined) return
    clearTimeout(slot.timer)
    this.#slots.delete(id)
    this.#onEnd(this.#view(slot), why)
  }

  close (): void {
    for (const slot of this.#slots.values()) clearTimeout(slot.timer)
    this.#slots.clear()
  }

  #view (slot: Slot): SlotInfo {
    return { ...slot.info, leftMs: Math.max(0, slot.info.expiresAt - Date.now()) }
  }
}
