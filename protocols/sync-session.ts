import { ProtocolError } from './framing.ts'
import { SYNC_LIMITS, type SyncEpoch, type SyncMessage } from './sync.ts'

/**
 * One catch-up exchange (`/peerflow/sync/1.1.0`, PROTOCOL.md) as a pure state machine: events in,
 * actions out, no I/O and no clock. The catch-up service drives it over a stream and a store; the
 * seeded simulation drives it over a scripted channel. The rules it enforces:
 * - the initiator sends its hello first; the responder answers a hello with its own;
 * - once both hellos are known, each side sends what the other lacks, then `done`;
 * - received updates are applied in arrival order; at most `maxBacklogBytes` may wait to be applied;
 * - the exchange is complete when this side has sent `done`, received `done`, and applied everything.
 */
export type SyncSessionEvent =
  /** The stream is open: the initiator speaks first. */
  | { type: 'open' }
  | { type: 'received', message: SyncMessage }
  /** The driver finished sending the missing updates and `done`. */
  | { type: 'sent-all' }
  /** The store applied one update handed out by an `apply` action. */
  | { type: 'applied', bytes: number }

export type SyncSessionAction =
  | { type: 'send', message: SyncMessage }
  /** Send every update the peer lacks, given its state vectors, then `done`; report `sent-all`. */
  | { type: 'send-missing', theirStateVectors: Map<string, Uint8Array> }
  | { type: 'apply', namespace: string, update: Uint8Array }
  /** Hand one part of a newer epoch to the store, in order with the updates; report `applied` with its size. */
  | { type: 'apply-epoch', epoch: SyncEpoch }
  /** The peer will not send `namespace` (swarm-scoped, and this side may not hold it). */
  | { type: 'refused', namespace: string, reason: string }
  /** Complete: both sides hold the union of what they had at the hellos, in these namespaces. */
  | { type: 'complete', namespaces: string[] }

export type SyncSessionPhase = 'idle' | 'awaiting-hello' | 'exchanging' | 'complete' | 'failed'

export interface SyncSessionOptions {
  initiator: boolean
  /** This side's state vector per namespace, taken when the session starts. */
  ours: Map<string, Uint8Array>
  maxBacklogBytes?: number
}

export class SyncSession {
  readonly #initiator: boolean
  readonly #ours: Map<string, Uint8Array>
  readonly #maxBacklogBytes: number
  #phase: SyncSessionPhase = 'idle'
  #theirs: Map<string, Uint8Array> | undefined
  #sentAll = false
  #receivedDone = false
  #backlogBytes = 0
  #pendingApplies = 0
  #failure: ProtocolError | undefined

  constructor ({ initiator, ours, maxBacklogBytes = SYNC_LIMITS.maxBacklogBytes }: SyncSessionOptions) {
    this.#initiator = initiator
    this.#ours = ours
    this.#maxBacklogBytes = maxBacklogBytes
  }

  get phase (): SyncSessionPhase {
    return this.#phase
  }

  /** Bytes received and not yet applied. */
  get backlogBytes (): number {
    return this.#backlogBytes
  }

  /** Why the session failed, once it has. */
  get failure (): ProtocolError | undefined {
    return this.#failure
  }

  /**
   * Feeds one event; returns what to do, in order. A protocol violation moves the session to
   * `failed` and throws the ProtocolError the driver should abort the stream with.
   */
  handle (event: SyncSessionEvent): SyncSessionAction[] {
    if (this.#phase === 'failed') throw this.#failure as ProtocolError
    if (this.#phase === 'complete') return this.#fail(`${event.type} after the exchange completed`)
    switch (event.type) {
      case 'open': return this.#open()
      case 'received': return this.#received(event.message)
      case 'sent-all': return this.#sentAllUpdates()
      case 'applied': return this.#applied(event.bytes)
    }
  }

  #open (): SyncSessionAction[] {
    if (this.#phase !== 'idle') return this.#fail('opened twice')
    this.#phase = 'awaiting-hello'
    return this.#initiator ? [{ type: 'send', message: { type: 'hello', stateVectors: this.#ours } }] : []
  }

  #received (message: SyncMessage): SyncSessionAction[] {
    if (this.#phase === 'idle') return this.#fail(`${message.type} before the stream opened`)
    if (message.type === 'error') return this.#fail(`peer reported: ${message.message}`)
    if (this.#phase === 'awaiting-hello') {
      if (message.type !== 'hello') return this.#fail(`expected hello, got ${message.type}`)
      this.#theirs = message.stateVectors
      this.#phase = 'exchanging'
      const answer: SyncSessionAction[] = this.#initiator ? [] : [{ type: 'send', message: { type: 'hello', stateVectors: this.#ours } }]
      return [...answer, { type: 'send-missing', theirStateVectors: message.stateVectors }]
    }
    if (this.#receivedDone) return this.#fail(`${message.type} after done`)
    if (message.type === 'hello') return this.#fail('a second hello')
    if (message.type === 'done') {
      this.#receivedDone = true
      return this.#completeIfFinished()
    }
    if (message.type === 'refused') return [{ type: 'refused', namespace: message.namespace, reason: message.reason }]
    this.#backlogBytes += message.type === 'epoch' ? message.part.byteLength : message.update.byteLength
    if (this.#backlogBytes > this.#maxBacklogBytes) {
      return this.#fail(`more than ${this.#maxBacklogBytes} bytes of updates waiting to be applied`)
    }
    this.#pendingApplies++
    if (message.type === 'epoch') return [{ type: 'apply-epoch', epoch: message }]
    return [{ type: 'apply', namespace: message.namespace, update: message.update }]
  }

  #sentAllUpdates (): SyncSessionAction[] {
    if (this.#phase !== 'exchanging' || this.#sentAll) return this.#fail('sent-all out of turn')
    this.#sentAll = true
    return this.#completeIfFinished()
  }

  #applied (bytes: number): SyncSessionAction[] {
    if (this.#pendingApplies === 0) return this.#fail('applied an update that was never handed out')
    this.#pendingApplies--
    this.#backlogBytes -= bytes
    return this.#completeIfFinished()
  }

  #completeIfFinished (): SyncSessionAction[] {
    if (!this.#sentAll || !this.#receivedDone || this.#pendingApplies > 0) return []
    this.#phase = 'complete'
    const namespaces = new Set([...this.#ours.keys(), ...(this.#theirs ?? new Map<string, Uint8Array>()).keys()])
    return [{ type: 'complete', namespaces: [...namespaces] }]
  }

  #fail (reason: string): never {
    this.#phase = 'failed'
    this.#failure = new ProtocolError(reason)
    throw this.#failure
  }
}
