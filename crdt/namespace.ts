import * as Y from 'yjs'
import {
  assertAuthor, assertJsonValue, assertKey, assertTags, assertTimestamp, deepFreeze, entryByteLength, frozenCopy, isExpired,
  jsonByteLength, newEntry
} from './entry.ts'
import type { Entry, JsonValue, PeerId } from './entry.ts'
import { EPOCH_ZERO, type EpochRecord } from './epoch.ts'
import { InvalidEntryError, NamespaceLimitError } from './errors.ts'
import { encodeMissingUpdates } from './missing-updates.ts'
import { assertNamespaceName } from './policy.ts'
import type { NamespacePolicy } from './policy.ts'

/** Name of the Y.Map holding a namespace's entries; peers must agree on it. */
export const ENTRIES_MAP = 'entries'
/** Transaction origin of this replica's own mutations. Remote origins are peer ids and never equal it. */
export const LOCAL_ORIGIN = 'local'

export interface WriteOptions {
  author: PeerId
  /** ms since epoch; passed in so replicas and tests control time. */
  now: number
}

/** One entry of a write: its key, value and, optionally, its own TTL and tags. */
export interface EntryWrite {
  key: string
  value: JsonValue
  /** Overrides the namespace's defaultTtlMs. */
  ttlMs?: number
  tags?: readonly string[]
}

export type PutOptions = WriteOptions & Pick<EntryWrite, 'ttlMs' | 'tags'>

export interface ListOptions {
  prefix?: string
  now: number
}

export interface NamespaceStats {
  /** Stored entries, including expired ones not yet swept. */
  entries: number
  /** Sum of the JSON sizes of the stored entries. */
  bytes: number
  /** Latest updatedAt among the entries written here, by anyone; undefined before any write. */
  lastUpdate: number | undefined
}

/** A live entry with the id of the Yjs item that wrote it. */
export interface LiveWrite {
  readonly entry: Entry
  readonly client: number
  readonly clock: number
}

export type DocUpdateListener = (update: Uint8Array, origin: string) => void

/** What a transaction did to the doc, for deciding whether the updates it applied must be stored. */
export interface TransactionEffect {
  /** It integrated structs or deletions. */
  changed: boolean
  /** It left parts waiting inside Yjs for updates not received yet (they apply when those arrive). */
  heldBack: boolean
}

/**
 * One namespace: a Y.Doc whose `entries` map holds whole Entry objects. Mutations are applied as
 * transactions with LOCAL_ORIGIN, so a listener on the doc's updates gets the exact bytes to
 * persist and gossip. Yjs encodes a transaction's update only while an 'update' handler is
 * attached, so one is attached for this replica's own transactions only: the bytes of a remote
 * update are already known to whoever applied it, and re-encoding them cost as much as applying.
 * Counts and sizes are kept incrementally from map events, so local and remote changes are
 * accounted the same way.
 */
export class NamespaceDoc {
  readonly name: string
  readonly policy: NamespacePolicy
  /** Generation of this doc (crdt/epoch.ts); updates of other epochs never apply to it. */
  readonly epoch: EpochRecord
  readonly #doc = new Y.Doc()
  readonly #entries: Y.Map<Entry>
  #count = 0
  /** Accounted bytes of the entries not in #unsized. */
  #bytes = 0
  /**
   * Entries counted but not sized yet: sizing stringifies an entry, which cost a fifth of applying
   * a large catch-up, so it waits until a limit check or the stats need the total.
   */
  readonly #unsized = new Set<Entry>()
  /**
   * Changes made by this replica's writes in the open transaction: map events (and so #count and
   * #bytes) arrive only when it ends, but limits must hold for each write of a batch.
   */
  #pendingCount = 0
  #pendingBytes = 0
  #lastUpdate: number | undefined
  readonly #updateListeners = new Set<DocUpdateListener>()
  /** Transactions open on the doc: only the outermost decides whether the update is encoded. */
  #depth = 0
  #lastEffect: TransactionEffect = { changed: false, heldBack: false }

  constructor (name: string, policy: NamespacePolicy, epoch: EpochRecord = EPOCH_ZERO) {
    assertNamespaceName(name)
    this.name = name
    this.policy = policy
    this.epoch = epoch
    this.#entries = this.#doc.getMap<Entry>(ENTRIES_MAP)
    this.#entries.observe(event => this.#account(event))
    this.#doc.on('afterTransaction', (transaction: Y.Transaction) => {
      this.#pendingCount = 0
      this.#pendingBytes = 0
      this.#lastEffect = { changed: changedState(transaction), heldBack: this.#lastEffect.heldBack }
    })
  }

  readonly #emitUpdate = (update: Uint8Array, origin: unknown): void => {
    for (const listener of this.#updateListeners) listener(update, String(origin))
  }

  /** Runs `mutations` in one transaction; a local outermost one is encoded for the update listeners. */
  #transact (origin: string, mutations: () => void): TransactionEffect {
    const encode = this.#depth === 0 && origin === LOCAL_ORIGIN && this.#updateListeners.size > 0
    const pending = this.#doc.store.pendingStructs?.update
    const pendingDeletes = this.#doc.store.pendingDs
    if (encode) this.#doc.on('update', this.#emitUpdate)
    this.#depth++
    try {
      this.#doc.transact(mutations, origin)
    } finally {
      this.#depth--
      if (encode) this.#doc.off('update', this.#emitUpdate)
    }
    const heldBack = this.#doc.store.pendingStructs?.update !== pending || this.#doc.store.pendingDs !== pendingDeletes
    this.#lastEffect = { changed: this.#lastEffect.changed, heldBack }
    return this.#lastEffect
  }

  #account (event: Y.YMapEvent<Entry>): void {
    for (const [key, change] of event.changes.keys) {
      const previous = change.oldValue as Entry | undefined
      if (previous !== undefined) {
        this.#count--
        if (!this.#unsized.delete(previous)) this.#bytes -= entryByteLength(previous)
      }
      const current = this.#entries.get(key)
      if (current !== undefined) {
        this.#count++
        this.#unsized.add(current)
        this.#lastUpdate = Math.max(this.#lastUpdate ?? current.updatedAt, current.updatedAt)
      }
    }
  }

  #totalBytes (): number {
    for (const entry of this.#unsized) this.#bytes += entryByteLength(entry)
    this.#unsized.clear()
    return this.#bytes
  }

  put (key: string, value: JsonValue, options: PutOptions): Entry {
    const { author, now, ttlMs, tags } = options
    return this.putMany([{ key, value, ttlMs, tags }], { author, now })[0] as Entry
  }

  /**
   * Writes every entry of `writes` or, when any is invalid or the whole batch would pass a limit of
   * the namespace, none: one transaction, so one update to store and gossip for the whole batch.
   */
  putMany (writes: readonly EntryWrite[], options: WriteOptions): Entry[] {
    assertAuthor(options.author)
    assertTimestamp('now', options.now)
    const keys = new Set<string>()
    let added = 0
    let bytesDelta = 0
    const entries = writes.map((write) => {
      if (keys.has(write.key)) throw new InvalidEntryError(`key "${write.key}" appears more than once in one batch`)
      keys.add(write.key)
      const stored = this.#entries.get(write.key)
      const entry = this.#newEntry(write, stored, options)
      added += stored === undefined ? 1 : 0
      bytesDelta += entryByteLength(entry) - (stored === undefined ? 0 : entryByteLength(stored))
      return entry
    })
    const count = this.#count + this.#pendingCount
    if (added > 0 && count + added > this.policy.maxEntries) {
      throw new NamespaceLimitError(this.name, 'maxEntries', this.policy.maxEntries, added === 1 ? `entry ${count + 1}` : `${count + added} entries`)
    }
    const bytesAfter = this.#totalBytes() + this.#pendingBytes + bytesDelta
    if (bytesAfter > this.policy.maxBytes) {
      throw new NamespaceLimitError(this.name, 'maxBytes', this.policy.maxBytes, `a total of ${bytesAfter} bytes`)
    }

    this.#transact(LOCAL_ORIGIN, () => {
      for (const entry of entries) this.#entries.set(entry.key, entry)
      this.#pendingCount += added
      this.#pendingBytes += bytesDelta
    })
    return entries
  }

  /** The entry `write` makes, checked against the namespace's policy; `stored` is the one it replaces. */
  #newEntry (write: EntryWrite, stored: Entry | undefined, options: WriteOptions): Entry {
    assertKey(write.key)
    assertJsonValue(write.value)
    const tags = write.tags ?? []
    assertTags(tags)
    const ttlMs = write.ttlMs ?? this.policy.defaultTtlMs
    if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)) {
      throw new InvalidEntryError('ttlMs must be a positive integer')
    }
    const valueBytes = jsonByteLength(write.value)
    if (valueBytes > this.policy.maxValueBytes) {
      throw new NamespaceLimitError(this.name, 'maxValueBytes', this.policy.maxValueBytes, `a value of ${valueBytes} bytes`)
    }
    const live = stored !== undefined && !isExpired(stored, options.now) ? stored : undefined
    return newEntry({
      key: write.key,
      author: options.author,
      createdAt: live?.createdAt ?? options.now,
      updatedAt: options.now,
      ...(ttlMs === undefined ? {} : { expiresAt: options.now + ttlMs }),
      tags
    }, frozenCopy(write.value), valueBytes)
  }

  /** The live entry, or undefined when absent or expired at `now`. */
  get (key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key)
    return entry === undefined || isExpired(entry, now) ? undefined : deepFreeze(entry)
  }

  /** Live entries, sorted by key (code-unit order, the same on every replica). */
  list (options: ListOptions): Entry[] {
    const prefix = options.prefix ?? ''
    const entries: Entry[] = []
    for (const [key, entry] of this.#entries.entries()) {
      if (key.startsWith(prefix) && !isExpired(entry, options.now)) entries.push(deepFreeze(entry))
    }
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** Removes the stored entry (expired or not); false when there was none. */
  delete (key: string): boolean {
    const stored = this.#entries.get(key)
    if (stored === undefined) return false
    this.#transact(LOCAL_ORIGIN, () => {
      this.#entries.delete(key)
      this.#pendingCount--
      this.#pendingBytes -= entryByteLength(stored)
    })
    return true
  }

  /**
   * Deletes every entry expired at `now`, in one transaction. A Yjs deletion only removes the
   * item it saw, so a sweep racing a fresh write of the same key never erases that write, and
   * replicas sweeping the same item in any order converge.
   */
  sweep (now: number): number {
    const expired: Array<[string, Entry]> = []
    for (const [key, entry] of this.#entries.entries()) {
      if (isExpired(entry, now)) expired.push([key, entry])
    }
    if (expired.length > 0) {
      this.#transact(LOCAL_ORIGIN, () => {
        for (const [key, entry] of expired) {
          this.#entries.delete(key)
          this.#pendingCount--
          this.#pendingBytes -= entryByteLength(entry)
        }
      })
    }
    return expired.length
  }

  /**
   * Writes `entry` exactly as it is (author, times, expiry kept): an entry carried over from an
   * older epoch is the same write, not a new one. Not checked against limits: it was within them.
   */
  carry (entry: Entry): void {
    this.#doc.transact(() => { this.#entries.set(entry.key, entry) }, LOCAL_ORIGIN)
  }

  /** The stored entry of `key`, expired or not. */
  stored (key: string): Entry | undefined {
    return this.#entries.get(key)
  }

  /** Every stored entry (expired ones included) with the id of the item holding it. */
  * liveWrites (): Generator<LiveWrite> {
    for (const item of this.#entries._map.values()) {
      if (item.deleted) continue
      const entry = item.content.getContent()[0] as Entry
      yield { entry, client: item.id.client, clock: item.id.clock }
    }
  }

  get entryCount (): number {
    return this.#count
  }

  stats (): NamespaceStats {
    return { entries: this.#count, bytes: this.#totalBytes(), lastUpdate: this.#lastUpdate }
  }

  stateVector (): Uint8Array {
    return Y.encodeStateVector(this.#doc)
  }

  /** Everything this replica has that a replica at `remoteStateVector` lacks, plus all deletions. */
  encodeStateAsUpdate (remoteStateVector?: Uint8Array): Uint8Array {
    return Y.encodeStateAsUpdate(this.#doc, remoteStateVector)
  }

  /**
   * Applies a Yjs update. Listeners are not told (its bytes are the record of it): the effect says
   * whether it must be stored.
   */
  /** encodeStateAsUpdate's content, cut into updates of at most `maxBytes`, each encoded when taken. */
  missingUpdates (remoteStateVector: Uint8Array, maxBytes: number): Generator<Uint8Array> {
    return encodeMissingUpdates(this.#doc, remoteStateVector, maxBytes)
  }

  applyUpdate (update: Uint8Array, origin: string): TransactionEffect {
    return this.#transact(origin, () => { Y.applyUpdate(this.#doc, update, origin) })
  }

  /**
   * Runs `mutations` as one transaction of `origin`: the puts, deletes and updates they make come
   * out as a single Yjs update, which is much cheaper to encode, store and gossip than one each.
   * Returns what the whole transaction did.
   */
  batch (origin: string, mutations: () => void): TransactionEffect {
    return this.#transact(origin, mutations)
  }

  /**
   * Calls `listener` with every change this replica makes (puts, deletes, sweeps, in transactions
   * of LOCAL_ORIGIN), as a Yjs update, and the origin that made it. Remote updates applied with
   * applyUpdate are not reported: their bytes are the update.
   */
  onUpdate (listener: DocUpdateListener): () => void {
    this.#updateListeners.add(listener)
    return () => { this.#updateListeners.delete(listener) }
  }

  destroy (): void {
    this.#doc.destroy()
  }
}

/** Whether a transaction integrated anything: Yjs emits an update for the same condition. */
function changedState (transaction: Y.Transaction): boolean {
  if (transaction.deleteSet.clients.size > 0) return true
  for (const [client, clock] of transaction.afterState) {
    if (transaction.beforeState.get(client) !== clock) return true
  }
  return false
}
