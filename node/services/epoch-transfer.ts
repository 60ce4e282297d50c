import * as Y from 'yjs'
import { compareEpochs, decodeEpochRecord, encodeEpochRecord, sameEpoch, type EpochId, type EpochRecord } from '../../crdt/epoch.ts'
import { ProtocolError } from '../../protocols/framing.ts'
import { SYNC_LIMITS, type SyncEpoch, type SyncMessage } from '../../protocols/sync.ts'
import type { ReplicaStore } from './replica.ts'

/*
 * Epochs in catch-up (PROTOCOL.md): each hello says which epoch of each namespace the sender holds.
 * Updates only flow between equal epochs; the side on the newer epoch sends its whole state in
 * `epoch` frames instead, and the other side adopts it (crdt/store.ts: adoptEpoch).
 */

const EMPTY_STATE_VECTOR = Y.encodeStateVector(new Y.Doc())

/** What to send a peer for one namespace, given the epoch this side said it holds and the peer's. */
export type NamespaceSend = 'updates' | 'epoch' | 'nothing'

export function planNamespaceSend (store: ReplicaStore, namespace: string, saidOurs: EpochId, theirs: EpochId): NamespaceSend {
  // A rollover since our hello: the peer's state vector refers to another doc, and our hello's epoch is no longer true.
  if (!sameEpoch(store.epochOf(namespace), saidOurs)) return 'nothing'
  const order = compareEpochs(saidOurs, theirs)
  // The peer is ahead: our updates would be refused; we adopt its epoch from its `epoch` frames.
  return order === 0 ? 'updates' : order > 0 ? 'epoch' : 'nothing'
}

/** The namespace's whole state as `epoch` frames, each within the frame cap. */
export function epochFrames (store: ReplicaStore, namespace: string): SyncEpoch[] {
  const record = encodeEpochRecord(store.epochOf(namespace))
  const parts = [...store.missingUpdates(namespace, EMPTY_STATE_VECTOR)]
  if (parts.length === 0) parts.push(Y.encodeStateAsUpdate(new Y.Doc()))
  return parts.map((part, index) => ({ type: 'epoch', namespace, record, part, final: index === parts.length - 1 }))
}

export function epochsOf (store: ReplicaStore, namespaces: Iterable<string>): Map<string, EpochRecord> {
  return new Map([...namespaces].map((namespace) => [namespace, store.epochOf(namespace)]))
}

/** Adds this side's epochs to its hello (the session builds the hello without them). */
export function withEpochs (message: SyncMessage, epochs: Map<string, EpochId>): SyncMessage {
  return message.type === 'hello' ? { ...message, epochs } : message
}

/**
 * Collects the `epoch` frames of one exchange, per namespace, and hands a complete set to the
 * store. The parts of one epoch wait in memory, at most maxBacklogBytes in all.
 */
export class EpochAssembler {
  readonly #store: ReplicaStore
  readonly #peer: string
  readonly #pending = new Map<string, { record: Uint8Array, parts: Uint8Array[] }>()
  #bytes = 0

  constructor (store: ReplicaStore, peer: string) {
    this.#store = store
    this.#peer = peer
  }

  /** Takes one frame; on the final one, adopts the epoch (true if adopted, false if not newer). */
  async add (frame: SyncEpoch): Promise<boolean | undefined> {
    const pending = this.#pending.get(frame.namespace) ?? { record: frame.record, parts: [] }
    if (!Buffer.from(pending.record).equals(frame.record)) throw new ProtocolError(`epoch frames of '${frame.namespace}' disagree on the epoch`)
    this.#bytes += frame.part.byteLength
    if (this.#bytes > SYNC_LIMITS.maxBacklogBytes) throw new ProtocolError(`more than ${SYNC_LIMITS.maxBacklogBytes} bytes of epoch state`)
    pending.parts.push(frame.part)
    this.#pending.set(frame.namespace, pending)
    if (!frame.final) return undefined
    this.#pending.delete(frame.namespace)
    let record: EpochRecord
    try {
      record = decodeEpochRecord(pending.record)
    } catch (err) {
      throw new ProtocolError(`invalid epoch record for '${frame.namespace}': ${(err as Error).message}`)
    }
    return this.#store.adoptEpoch(frame.namespace, record, pending.parts, this.#peer)
  }
}
