import * as Y from 'yjs'
import {
  assertAuthor, assertJsonValue, assertKey, assertTags, assertTimestamp, deepFreeze, entryByteLength, isExpired,
  jsonByteLength
} from './entry.ts'
import type { Entry, JsonValue, PeerId } from './entry.ts'
import { EPOCH_ZERO, type EpochRecord } from './epoch.ts'
import { InvalidEntryError, NamespaceLimitError } from './errors.ts'
import { assertNamespaceName } from './policy.ts'
import type { NamespacePolicy } from './policy.ts'

/** Name of the Y.Map holding a namespace's entries; peers must agree on it. */
export const ENTRIES_MAP = 'entries'
/** Transaction origin of this replica's own mutations. Remote origins are peer ids and never equal it. */
export const LOCAL_ORIGIN = 'local'

export interface PutOptions {
  author: PeerId
  /** ms since epoch; passed in so replicas and tests control time. */
  now: number
  /** Overrides the namespace's defaultTtlMs. */
  ttlMs?: number
  tags?: readonly string[]
}

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

/**
 * One namespace: a Y.Doc whose `entries` map holds whole Entry objects. Mutations are applied as
 * transactions with LOCAL_ORIGIN, so a listener on the doc's updates gets the exact bytes to
 * persist and gossip. Counts and sizes are kept incrementally from map events, so local and
 * remote changes are accounted the same way.
 */
export class NamespaceDoc {
  readonly name: string
  readonly policy: NamespacePolicy
  /** Generation of this doc (crdt/epoch.ts); updates of other epochs never apply to it. */
  readonly epoch: EpochRecord
  readonly #doc = new Y.Doc()
  readonly #entries: Y.Map<Entry>
  #count = 0
  #bytes = 0
  /**
   * Changes made by this replica's writes in the open transaction: map events (and so #count and
   * #bytes) arrive only when it ends, but limits must hold for each write of a batch.
   */
  #pendingCount = 0
  #pendingBytes = 0
  #lastUpdate: number | undefined

  constructor (name: string, policy: NamespacePolicy, epoch: EpochRecord = EPOCH_ZERO) {
    assertNamespaceName(name)
    this.name = name
    this.policy = policy
    this.epoch = epoch
    this.#entries = this.#doc.getMap<Entry>(ENTRIES_MAP)
    this.#entries.observe(event => this.#account(event))
    this.#doc.on('afterTransaction', () => {
      this.#pendingCount = 0
      this.#pendingBytes = 0
    })
  }

  #account (event: Y.YMapEvent<Entry>): void {
    for (const [key, change] of event.changes.keys) {
      const previous = change.oldValue as Entry | undefined
      if (previous !== undefined) {
        this.#count--
        this.#bytes -= entryByteLength(previous)
      }
      const current = this.#entries.get(key)
      if (current !== undefined) {
        deepFreeze(current)
        this.#count++
        this.#bytes += entryByteLength(current)
        this.#lastUpdate = Math.max(this.#lastUpdate ?? current.updatedAt, current.updatedAt)
      }
    }
  }

  put (key: string, value: JsonValue, options: PutOptions): Entry {
    assertKey(key)
    assertJsonValue(value)
    assertAuthor(options.author)
    assertTimestamp('now', options.now)
    const tags = options.tags ?? []
    assertTags(tags)
    const ttlMs = options.ttlMs ?? this.policy.defaultTtlMs
    if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)) {
      throw new InvalidEntryError('ttlMs must be a positive integer')
    }

    const valueBytes = jsonByteLength(value)
    if (valueBytes > this.policy.maxValueBytes) {
      throw new NamespaceLimitError(this.name, 'maxValueBytes', this.policy.maxValueBytes, `a value of ${valueBytes} bytes`)
    }
    const stored = this.#entries.get(key)
    const live = stored !== undefined && !isExpired(stored, options.now) ? stored : undefined
    const entry: Entry = deepFreeze({
      key,
      value: structuredClone(value),
      author: options.author,
      createdAt: live?.createdAt ?? options.now,
      updatedAt: options.now,
      ...(ttlMs === undefined ? {} : { expiresAt: options.now + ttlMs }),
      tags: [...tags]
    })
    const count = this.#count + this.#pendingCount
    if (stored === undefined && count >= this.policy.maxEntries) {
      throw new NamespaceLimitError(this.name, 'maxEntries', this.policy.maxEntries, `entry ${count + 1}`)
    }
    const bytesDelta = entryByteLength(entry) - (stored === undefined ? 0 : entryByteLength(stored))
    const bytesAfter = this.#bytes + this.#pendingBytes + bytesDelta
    if (bytesAfter > this.policy.maxBytes) {
      throw new NamespaceLimitError(this.name, 'maxBytes', this.policy.maxBytes, `a total of ${bytesAfter} bytes`)
    }

    this.#doc.transact(() => {
      this.#entries.set(key, entry)
      this.#pendingCount += stored === undefined ? 1 : 0
      this.#pendingBytes += bytesDelta
    }, LOCAL_ORIGIN)
    return entry
  }

  /** The live entry, or undefined when absent or expired at `now`. */
  get (key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key)
    return entry === undefined || isExpired(entry, now) ? undefined : entry
  }

  /** Live entries, sorted by key (code-unit order, the same on every replica). */
  list (options: ListOptions): Entry[] {
    const prefix = options.prefix ?? ''
    const entries: Entry[] = []
    for (const [key, entry] of this.#entries.entries()) {
      if (key.startsWith(prefix) && !isExpired(entry, options.now)) entries.push(entry)
    }
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** Removes the stored entry (expired or not); false when there was none. */
  delete (key: string): boolean {
    const stored = this.#entries.get(key)
    if (stored === undefined) return false
    this.#doc.transact(() => {
      this.#entries.delete(key)
      this.#pendingCount--
      this.#pendingBytes -= entryByteLength(stored)
    }, LOCAL_ORIGIN)
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
      this.#doc.transact(() => {
        for (const [key, entry] of expired) {
          this.#entries.delete(key)
          this.#pendingCount--
          this.#pendingBytes -= entryByteLength(entry)
        }
      }, LOCAL_ORIGIN)
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

  stats (): NamespaceStats {
    return { entries: this.#count, bytes: this.#bytes, lastUpdate: this.#lastUpdate }
  }

  stateVector (): Uint8Array {
    return Y.encodeStateVector(this.#doc)
  }

  /** Everything this replica has that a replica at `remoteStateVector` lacks, plus all deletions. */
  encodeStateAsUpdate (remoteStateVector?: Uint8Array): Uint8Array {
    return Y.encodeStateAsUpdate(this.#doc, remoteStateVector)
  }

  applyUpdate (update: Uint8Array, origin: string): void {
    Y.applyUpdate(this.#doc, update, origin)
  }

  /**
   * Runs `mutations` as one transaction of `origin`: the puts, deletes and updates they make come
   * out as a single Yjs update, which is much cheaper to encode, store and gossip than one each.
   */
  batch (origin: string, mutations: () => void): void {
    this.#doc.transact(mutations, origin)
  }

  /** Calls `listener` with every change to the doc, as a Yjs update, and the origin that made it. */
  onUpdate (listener: DocUpdateListener): () => void {
    const handler = (update: Uint8Array, origin: unknown): void => listener(update, String(origin))
    this.#doc.on('update', handler)
    return () => this.#doc.off('update', handler)
  }

  destroy (): void {
    this.#doc.destroy()
  }
}
