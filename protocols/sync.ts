import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { ProtocolError } from './framing.ts'
import { isNamespaceName } from '../crdt/index.ts'
import { EPOCH_LIMITS, EPOCH_ZERO, readEpochId, writeEpochId, type EpochId } from '../crdt/epoch.ts'

/**
 * State-vector catch-up (`/peerflow/sync/1.1.0`): pure message functions, independent of the
 * transport. Both sides send `hello` (their state vector per namespace), then the updates the
 * other side lacks, in bounded chunks, then `done`. See PROTOCOL.md.
 */

export const SYNC_LIMITS = {
  /** No frame, hello or update, may be larger. Update chunks are cut well below it. */
  maxFrameBytes: 1024 * 1024,
  /** Cap on the size of one update chunk the sender produces. */
  maxUpdateChunkBytes: 256 * 1024,
  maxNamespacesPerHello: 1024,
  maxStateVectorBytes: 64 * 1024,
  readTimeoutMs: 10_000,
  /**
   * Received updates a side may hold while it applies them. The protocol has no flow control, so
   * a receiver buffers what arrives faster than it applies; past this it aborts the exchange (what
   * it applied stays, and the next round resumes from there).
   */
  maxBacklogBytes: 64 * 1024 * 1024,
  /** Concurrent catch-up streams a peer may open on one connection. */
  maxInboundStreams: 8,
  /** Anti-entropy: this often, whatever gossip did, a node catches up with some of its peers... */
  antiEntropyIntervalMs: 15_000,
  /**
   * ...this many, chosen at random (all when it has no more). Every peer each round made the work
   * grow with the square of the network (30 nodes: 58 exchanges a second); a random few still
   * spread whatever gossip missed to every node within a few rounds.
   */
  antiEntropyPeers: 3,
  /** How long an answer may wait for the answerer's own exchange in flight: below the asker's read timeout. */
  answerWaitMs: 8_000,
  /** Bytes of one `epoch` frame's record (its cut state vector and ids). */
  maxEpochRecordBytes: EPOCH_LIMITS.maxCutBytes + 256
} as const

const HELLO = 0
const UPDATE = 1
const DONE = 2
const ERROR = 3
const EPOCH = 4
const REFUSED = 5

/** `epochs` absent means epoch 0 for every namespace; decoding always fills it. */
export interface SyncHello { type: 'hello', stateVectors: Map<string, Uint8Array>, epochs?: Map<string, EpochId> }
export interface SyncUpdate { type: 'update', namespace: string, update: Uint8Array }
export interface SyncDone { type: 'done' }
export interface SyncError { type: 'error', message: string }
/**
 * Part of a namespace's whole state in a newer epoch than the receiver's (crdt/epoch.ts), sent
 * instead of updates; `record` is the encoded epoch record, the same in every part; the receiver
 * adopts the epoch once it has the `final` part.
 */
export interface SyncEpoch { type: 'epoch', namespace: string, record: Uint8Array, part: Uint8Array, final: boolean }
/** A swarm-scoped namespace the peer listed in its hello and may not hold: nothing of it is sent. */
export interface SyncRefused { type: 'refused', namespace: string, reason: string }
export type SyncMessage = SyncHello | SyncUpdate | SyncDone | SyncError | SyncEpoch | SyncRefused

export const isHello = (message: SyncMessage): message is SyncHello => message.type === 'hello'
export const isUpdate = (message: SyncMessage): message is SyncUpdate => message.type === 'update'
export const isDone = (message: SyncMessage): message is SyncDone => message.type === 'done'
export const isError = (message: SyncMessage): message is SyncError => message.type === 'error'

export function encodeSyncMessage (message: SyncMessage): Uint8Array {
  const encoder = encoding.createEncoder()
  switch (message.type) {
    case 'hello':
      encoding.writeVarUint(encoder, HELLO)
      encoding.writeVarUint(encoder, message.stateVectors.size)
      for (const [namespace, stateVector] of message.stateVectors) {
        encoding.writeVarString(encoder, namespace)
        encoding.writeVarUint8Array(encoder, stateVector)
        writeEpochId(encoder, message.epochs?.get(namespace) ?? EPOCH_ZERO)
      }
      break
    case 'epoch':
      encoding.writeVarUint(encoder, EPOCH)
      encoding.writeVarString(encoder, message.namespace)
      encoding.writeVarUint8Array(encoder, message.record)
      encoding.writeVarUint8Array(encoder, message.part)
      encoding.writeVarUint(encoder, message.final ? 1 : 0)
      break
    case 'update':
      encoding.writeVarUint(encoder, UPDATE)
      encoding.writeVarString(encoder, message.namespace)
      encoding.writeVarUint8Array(encoder, message.update)
      break
    case 'done':
      encoding.writeVarUint(encoder, DONE)
      break
    case 'error':
      encoding.writeVarUint(encoder, ERROR)
      encoding.writeVarString(encoder, message.message.slice(0, 500))
      break
    case 'refused':
      encoding.writeVarUint(encoder, REFUSED)
      encoding.writeVarString(encoder, message.namespace)
      encoding.writeVarString(encoder, message.reason.slice(0, 500))
      break
  }
  return encoding.toUint8Array(encoder)
}

function readNamespace (decoder: decoding.Decoder): string {
  const name: string = decoding.readVarString(decoder)
  if (!isNamespaceName(name)) throw new ProtocolError(`invalid namespace name '${String(name).slice(0, 80)}'`)
  return name
}

function readEpochIdOrFail (decoder: decoding.Decoder, namespace: string): EpochId {
  try {
    return readEpochId(decoder)
  } catch {
    throw new ProtocolError(`malformed epoch of '${namespace}' in hello`)
  }
}

/** Decodes one frame; anything malformed, oversized or trailing is a ProtocolError. */
export function decodeSyncMessage (bytes: Uint8Array): SyncMessage {
  if (bytes.byteLength > SYNC_LIMITS.maxFrameBytes) throw new ProtocolError(`sync frame of ${bytes.byteLength} bytes exceeds the cap`)
  const decoder = decoding.createDecoder(bytes)
  let message: SyncMessage
  try {
    const type = decoding.readVarUint(decoder)
    if (type === HELLO) {
      const count = decoding.readVarUint(decoder)
      if (count > SYNC_LIMITS.maxNamespacesPerHello) throw new ProtocolError(`hello lists ${count} namespaces (cap ${SYNC_LIMITS.maxNamespacesPerHello})`)
      const stateVectors = new Map<string, Uint8Array>()
      const epochs = new Map<string, EpochId>()
      for (let i = 0; i < count; i++) {
        const namespace = readNamespace(decoder)
        const stateVector = decoding.readVarUint8Array(decoder)
        if (stateVector.byteLength > SYNC_LIMITS.maxStateVectorBytes) throw new ProtocolError(`state vector of '${namespace}' too large`)
        stateVectors.set(namespace, stateVector)
        epochs.set(namespace, readEpochIdOrFail(decoder, namespace))
      }
      message = { type: 'hello', stateVectors, epochs }
    } else if (type === EPOCH) {
      const namespace = readNamespace(decoder)
      const record = decoding.readVarUint8Array(decoder)
      if (record.byteLength > SYNC_LIMITS.maxEpochRecordBytes) throw new ProtocolError(`epoch record of '${namespace}' too large`)
      const part = decoding.readVarUint8Array(decoder)
      const final = decoding.readVarUint(decoder)
      if (final > 1) throw new ProtocolError('epoch frame with an invalid final flag')
      message = { type: 'epoch', namespace, record, part, final: final === 1 }
    } else if (type === UPDATE) {
      message = { type: 'update', namespace: readNamespace(decoder), update: decoding.readVarUint8Array(decoder) }
    } else if (type === DONE) {
      message = { type: 'done' }
    } else if (type === ERROR) {
      message = { type: 'error', message: decoding.readVarString(decoder) }
    } else if (type === REFUSED) {
      message = { type: 'refused', namespace: readNamespace(decoder), reason: decoding.readVarString(decoder).slice(0, 500) }
    } else {
      throw new ProtocolError(`unknown sync message type ${type}`)
    }
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError(`truncated or malformed sync frame (${(err as Error).message})`)
  }
  if (decoding.hasContent(decoder)) throw new ProtocolError('trailing bytes after a sync message')
  return message
}
