import { decodeEpochRecord, EPOCH_ZERO } from './epoch.ts'
import { CorruptNamespaceError } from './errors.ts'
import type { KeyValueOperation, KeyValueStore } from './key-value-store.ts'
import { epochKey, logKey, namespaceRange, parseKey, snapshotKey } from './keys.ts'
import { NamespaceDoc } from './namespace.ts'
import type { NamespacePolicy } from './policy.ts'
import { isNamespaceName } from './namespace-names.ts'
import { decodeRecord, encodeRecord } from './record.ts'


/** The raw values of one namespace, by snapshot index and by log sequence number. */
export interface StoredRecords {
  readonly snapshot: Map<number, Uint8Array>
  readonly log: Map<number, Uint8Array>
  /** The epoch record, when the namespace has rolled over (crdt/epoch-rollover.ts). */
  epoch?: Uint8Array
}

export interface CompactionPlan {
  readonly operations: KeyValueOperation[]
  /** Call once the operations are written. */
  commit (): void
}

/** Origin of the transactions that replay disk contents; the store is not listening yet. */
const STORAGE_ORIGIN = 'storage'

/** Reads every namespace's records, or one namespace's. Keys outside the layout are corruption. */
export async function readStoredRecords (db: KeyValueStore, namespace?: string): Promise<Map<string, StoredRecords>> {
  const found = new Map<string, StoredRecords>()
  for await (const [key, value] of db.entries(namespace === undefined ? {} : namespaceRange(namespace))) {
    const parsed = parseKey(key)
    if (parsed.kind === 'unknown' || !isNamespaceName(parsed.namespace)) {
      throw new CorruptNamespaceError(parsed.namespace, `unexpected key ${JSON.stringify(key)}`)
    }
    let records = found.get(parsed.namespace)
    if (records === undefined) {
      records = { snapshot: new Map(), log: new Map() }
      found.set(parsed.namespace, records)
    }
    if (parsed.kind === 'snapshot') records.snapshot.set(parsed.index, value)
    else if (parsed.kind === 'epoch') records.epoch = value
    else records.log.set(parsed.seq, value)
  }
  return found
}

function restoreEpoch (name: string, records: StoredRecords): typeof EPOCH_ZERO {
  if (records.epoch === undefined) return EPOCH_ZERO
  const payload = decodeRecord(records.epoch)
  if (payload === undefined) throw new CorruptNamespaceError(name, `checksum mismatch in ${epochKey(name)}`)
  try {
    return decodeEpochRecord(payload)
  } catch (err) {
    throw new CorruptNamespaceError(name, 'the epoch record cannot be decoded', { cause: err })
  }
}

function sortedNumbers (values: Iterable<number>): number[] {
  return [...values].sort((a, b) => a - b)
}

/**
 * A namespace's doc together with where its state lives on disk: a snapshot (the encoded doc
 * state cut into byte slices of at most chunkBytes, under consecutive indexes from 0) and a log
 * of the Yjs updates written since (consecutive sequence numbers). Loading is one applyUpdate of
 * the joined snapshot, then each log update in order.
 */
export class PersistedNamespace {
  readonly doc: NamespaceDoc
  #snapshotChunks = 0
  #snapshotBytes = 0
  #firstLogSeq = 0
  #nextLogSeq = 0
  #logBytes = 0

  constructor (doc: NamespaceDoc) {
    this.doc = doc
  }

  /** Rebuilds a namespace from its records; anything undecodable is a CorruptNamespaceError. */
  static restore (name: string, policy: NamespacePolicy, records: StoredRecords): PersistedNamespace {
    const restored = new PersistedNamespace(new NamespaceDoc(name, policy, restoreEpoch(name, records)))
    try {
      restored.#replay(records)
    } catch (err) {
      restored.doc.destroy()
      if (err instanceof CorruptNamespaceError) throw err
      throw new CorruptNamespaceError(name, 'stored updates cannot be applied', { cause: err })
    }
    return restored
  }

  #replay (records: StoredRecords): void {
    const name = this.doc.name
    const payload = (key: string, record: Uint8Array): Uint8Array => {
      const decoded = decodeRecord(record)
      if (decoded === undefined) throw new CorruptNamespaceError(name, `checksum mismatch in ${key}`)
      return decoded
    }

    const indexes = sortedNumbers(records.snapshot.keys())
    const slices = indexes.map((index, position) => {
      if (index !== position) throw new CorruptNamespaceError(name, `snapshot chunk ${position} is missing`)
      return payload(snapshotKey(name, index), records.snapshot.get(index) as Uint8Array)
    })
    if (slices.length > 0) this.doc.applyUpdate(Buffer.concat(slices), STORAGE_ORIGIN)
    this.#snapshotChunks = slices.length
    this.#snapshotBytes = slices.reduce((total, slice) => total + slice.byteLength, 0)

    const seqs = sortedNumbers(records.log.keys())
    this.#firstLogSeq = seqs[0] ?? 0
    seqs.forEach((seq, position) => {
      if (seq !== this.#firstLogSeq + position) {
        throw new CorruptNamespaceError(name, `log update ${this.#firstLogSeq + position} is missing`)
      }
      const update = payload(logKey(name, seq), records.log.get(seq) as Uint8Array)
      this.doc.applyUpdate(update, STORAGE_ORIGIN)
      this.#logBytes += update.byteLength
    })
    this.#nextLogSeq = this.#firstLogSeq + seqs.length
  }

  get logLength (): number {
    return this.#nextLogSeq - this.#firstLogSeq
  }

  get logBytes (): number {
    return this.#logBytes
  }

  get snapshotBytes (): number {
    return this.#snapshotBytes
  }

  /**
   * The operation that logs `update`. Counters advance now: if the batch carrying it fails, the
   * store replaces this object by one restored from disk.
   */
  append (update: Uint8Array): KeyValueOperation {
    this.#logBytes += update.byteLength
    return { type: 'put', key: logKey(this.doc.name, this.#nextLogSeq++), value: encodeRecord(update) }
  }

  /**
   * Replaces snapshot and log by a snapshot of the whole doc, in one batch, so a crash leaves either
   * the old snapshot and log or the new snapshot. Only valid when the doc holds exactly what is on
   * disk (the store runs it between batches), plus possibly remote updates still pending a dependency.
   */
  planCompaction (chunkBytes: number): CompactionPlan {
    const name = this.doc.name
    const state = this.doc.encodeStateAsUpdate()
    const operations: KeyValueOperation[] = []
    let chunks = 0
    for (let offset = 0; offset < state.byteLength; offset += chunkBytes) {
      operations.push({ type: 'put', key: snapshotKey(name, chunks++), value: encodeRecord(state.subarray(offset, offset + chunkBytes)) })
    }
    for (let index = chunks; index < this.#snapshotChunks; index++) operations.push({ type: 'del', key: snapshotKey(name, index) })
    for (let seq = this.#firstLogSeq; seq < this.#nextLogSeq; seq++) operations.push({ type: 'del', key: logKey(name, seq) })
    return {
      operations,
      commit: () => {
        this.#snapshotChunks = chunks
        this.#snapshotBytes = state.byteLength
        this.#firstLogSeq = this.#nextLogSeq
        this.#logBytes = 0
      }
    }
  }
}
