import { createHash } from 'node:crypto'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { InvalidUpdateError } from './errors.ts'

/**
 * A namespace's epoch: which generation of its doc a replica holds. A rollover replaces the doc by
 * a fresh one seeded with the live entries, under the next epoch number; updates of one epoch never
 * apply to the doc of another (their item ids refer to a different history).
 *
 * Epochs are totally ordered by number, then id: when two replicas roll over concurrently, every
 * replica ends on the greater one.
 */
export interface EpochId {
  readonly number: number
  /** Hex digest of the seed; empty for epoch 0, the doc every namespace starts with. */
  readonly id: string
}

/** What a replica stores and sends about its epoch. */
export interface EpochRecord extends EpochId {
  /** The epoch this one was rolled from; absent for epoch 0. */
  readonly base?: EpochId
  /**
   * State vector of the base epoch's doc at the rollover: every write it covers is reflected in
   * the seed (kept, or dropped because it was deleted, expired or overwritten). A replica still on
   * the base epoch carries over its live writes this does not cover.
   */
  readonly cut: Uint8Array
}

export const EPOCH_ZERO: EpochRecord = Object.freeze({ number: 0, id: '', cut: Uint8Array.of(0) })

/** Caps of a decoded record: it arrives from peers. */
export const EPOCH_LIMITS = {
  maxIdLength: 64,
  maxCutBytes: 64 * 1024
} as const

const RECORD_VERSION = 1

export function compareEpochs (a: EpochId, b: EpochId): number {
  if (a.number !== b.number) return a.number < b.number ? -1 : 1
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

export function sameEpoch (a: EpochId, b: EpochId): boolean {
  return compareEpochs(a, b) === 0
}

export function describeEpoch (epoch: EpochId): string {
  return epoch.number === 0 ? 'epoch 0' : `epoch ${epoch.number} (${epoch.id.slice(0, 8)})`
}

/** Id of the epoch seeded with `seed`: replicas that seed the same live entries get the same epoch. */
export function epochIdOf (namespace: string, number: number, seed: Uint8Array): string {
  return createHash('sha256').update(`${namespace}/${number}/`).update(seed).digest('hex').slice(0, 32)
}

/** Yjs client id of the seed's writes: fixed per namespace and epoch number, so equal live sets give byte-equal seeds. */
export function seedClientId (namespace: string, number: number): number {
  return createHash('sha256').update(`seed/${namespace}/${number}`).digest().readUInt32BE(0)
}

export function writeEpochId (encoder: encoding.Encoder, epoch: EpochId): void {
  encoding.writeVarUint(encoder, epoch.number)
  encoding.writeVarString(encoder, epoch.id)
}

export function readEpochId (decoder: decoding.Decoder): EpochId {
  const number = decoding.readVarUint(decoder)
  const id = decoding.readVarString(decoder)
  if (!Number.isSafeInteger(number) || id.length > EPOCH_LIMITS.maxIdLength || (number === 0) !== (id === '')) {
    throw new InvalidUpdateError('malformed epoch id')
  }
  return { number, id }
}

export function encodeEpochRecord (record: EpochRecord): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, RECORD_VERSION)
  writeEpochId(encoder, record)
  encoding.writeVarUint(encoder, record.base === undefined ? 0 : 1)
  if (record.base !== undefined) writeEpochId(encoder, record.base)
  encoding.writeVarUint8Array(encoder, record.cut)
  return encoding.toUint8Array(encoder)
}

/** Decodes a record; anything malformed is an InvalidUpdateError. */
export function decodeEpochRecord (bytes: Uint8Array): EpochRecord {
  try {
    const decoder = decoding.createDecoder(bytes)
    if (decoding.readVarUint(decoder) !== RECORD_VERSION) throw new InvalidUpdateError('unknown epoch record version')
    const epoch = readEpochId(decoder)
    const base = decoding.readVarUint(decoder) === 1 ? readEpochId(decoder) : undefined
    const cut = decoding.readVarUint8Array(decoder)
    if (cut.byteLength > EPOCH_LIMITS.maxCutBytes) throw new InvalidUpdateError('epoch cut too large')
    if (decoding.hasContent(decoder)) throw new InvalidUpdateError('trailing bytes after an epoch record')
    if (epoch.number > 0 && (base === undefined || base.number >= epoch.number)) throw new InvalidUpdateError('epoch record without an older base')
    return Object.freeze({ ...epoch, ...(base === undefined ? {} : { base }), cut: cut.slice() })
  } catch (err) {
    if (err instanceof InvalidUpdateError) throw err
    throw new InvalidUpdateError('malformed epoch record', { cause: err })
  }
}

/** Refusal of an update made in another epoch than the namespace's current one. */
export class EpochMismatchError extends InvalidUpdateError {
  override name = 'EpochMismatchError'
  readonly namespace: string
  readonly received: EpochId
  readonly current: EpochId

  constructor (namespace: string, received: EpochId, current: EpochId) {
    const newer = compareEpochs(received, current) > 0
    super(
      `namespace "${namespace}" is at ${describeEpoch(current)}; refused an update of ${describeEpoch(received)}` +
      (newer
        ? ': this replica adopts the newer epoch at its next catch-up with the sender'
        : ': the sender adopts the current epoch at its next catch-up and carries its live writes over')
    )
    this.namespace = namespace
    this.received = received
    this.current = current
  }

  /** Whether the sender is ahead, so this replica should catch up with it. */
  get senderIsAhead (): boolean {
    return compareEpochs(this.received, this.current) > 0
  }
}
