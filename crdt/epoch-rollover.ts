import * as Y from 'yjs'
import { isExpired, type Entry } from './entry.ts'
import { epochIdOf, sameEpoch, seedClientId, type EpochRecord } from './epoch.ts'
import { encodeEpochRecord } from './epoch.ts'
import type { KeyValueOperation, KeyValueStore } from './key-value-store.ts'
import { epochKey, namespaceRange, snapshotKey } from './keys.ts'
import { ENTRIES_MAP, LOCAL_ORIGIN, type NamespaceDoc } from './namespace.ts'
import type { StoredRecords } from './persisted-namespace.ts'
import { encodeRecord } from './record.ts'

/*
 * Epoch rollover: Yjs keeps an item (and a delete-set range) for every overwritten or deleted map
 * value, so a namespace that churns (tasks, swarm state) grows with its history. Rolling over
 * replaces the doc by a fresh one holding only the entries live at that moment; the old history
 * is dropped from memory and disk. Pure functions over docs here; the store runs them in its
 * write queue.
 */

/** The next epoch of a namespace: its record and its whole initial state. */
export interface NextEpoch {
  readonly record: EpochRecord
  readonly state: Uint8Array
}

/**
 * Seeds the epoch after `doc`'s with the entries live at `now`, written in key order by a client
 * id fixed for the epoch number: replicas that roll over the same live entries get byte-equal
 * seeds and so the same epoch.
 */
export function seedNextEpoch (doc: NamespaceDoc, now: number): NextEpoch {
  const number = doc.epoch.number + 1
  const seedDoc = new Y.Doc({ gc: true })
  seedDoc.clientID = seedClientId(doc.name, number)
  const entries = seedDoc.getMap<Entry>(ENTRIES_MAP)
  seedDoc.transact(() => {
    for (const entry of doc.list({ now })) entries.set(entry.key, entry)
  })
  const state = Y.encodeStateAsUpdate(seedDoc)
  seedDoc.destroy()
  const record: EpochRecord = Object.freeze({
    number,
    id: epochIdOf(doc.name, number, state),
    base: { number: doc.epoch.number, id: doc.epoch.id },
    cut: doc.stateVector()
  })
  return { record, state }
}

/** Last-writer order of two versions of one key: later updatedAt, then greater author, then text. */
function isNewer (candidate: Entry, current: Entry): boolean {
  if (candidate.updatedAt !== current.updatedAt) return candidate.updatedAt > current.updatedAt
  if (candidate.author !== current.author) return candidate.author > current.author
  return JSON.stringify(candidate) > JSON.stringify(current)
}

/**
 * Entries of `old` that the newer epoch's doc `next` lacks and must be written again so no live
 * write is lost by adopting it. When `next` was rolled from `old`'s epoch, a write its cut covers
 * is skipped: the rollover saw it, and what became of it (kept, overwritten, deleted, expired) is
 * in `next` already. Any other live write (made after the cut, or in a sibling epoch rolled
 * concurrently) is kept when `next` holds no version of its key or an older one.
 */
export function entriesToCarry (old: NamespaceDoc, next: NamespaceDoc, now: number): Entry[] {
  const base = next.epoch.base
  const cut = base !== undefined && sameEpoch(base, old.epoch) ? Y.decodeStateVector(next.epoch.cut) : undefined
  const carried: Entry[] = []
  for (const { entry, client, clock } of old.liveWrites()) {
    if (isExpired(entry, now)) continue
    if (cut !== undefined && clock < (cut.get(client) ?? 0)) continue
    const current = next.stored(entry.key)
    if (current === undefined || isNewer(entry, current)) carried.push(entry)
  }
  return carried.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

/** Writes `entries` into `doc` as one local transaction; returns the update it made, if any. */
export function carryInto (doc: NamespaceDoc, entries: readonly Entry[]): Uint8Array | undefined {
  if (entries.length === 0) return undefined
  let update: Uint8Array | undefined
  const stop = doc.onUpdate((bytes) => { update = bytes })
  try {
    doc.batch(LOCAL_ORIGIN, () => { for (const entry of entries) doc.carry(entry) })
  } finally {
    stop()
  }
  return update
}

/**
 * The batch that replaces everything stored for a namespace by `state` as its snapshot (cut into
 * slices of at most chunkBytes) and `record` as its epoch, and the records it leaves on disk.
 * One batch, so a crash leaves either the old epoch or the new one.
 */
export async function planEpochReplacement (
  db: KeyValueStore, namespace: string, record: EpochRecord, state: Uint8Array, chunkBytes: number
): Promise<{ operations: KeyValueOperation[], records: StoredRecords }> {
  const operations: KeyValueOperation[] = []
  const written = new Set<string>()
  const records: StoredRecords = { snapshot: new Map(), log: new Map() }
  for (let offset = 0, index = 0; offset < state.byteLength; offset += chunkBytes, index++) {
    const value = encodeRecord(state.subarray(offset, offset + chunkBytes))
    const key = snapshotKey(namespace, index)
    operations.push({ type: 'put', key, value })
    records.snapshot.set(index, value)
    written.add(key)
  }
  records.epoch = encodeRecord(encodeEpochRecord(record))
  operations.push({ type: 'put', key: epochKey(namespace), value: records.epoch })
  written.add(epochKey(namespace))
  for await (const [key] of db.entries(namespaceRange(namespace))) {
    if (!written.has(key)) operations.push({ type: 'del', key })
  }
  return { operations, records }
}
