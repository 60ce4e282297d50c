import type { Entry, JsonValue } from './entry.ts'
import { compareEpochs, EPOCH_ZERO, EpochMismatchError, sameEpoch, type EpochId, type EpochRecord } from './epoch.ts'
import { carryInto, entriesToCarry, planEpochReplacement, seedNextEpoch, type NextEpoch } from './epoch-rollover.ts'
import { InvalidNamespaceError, InvalidUpdateError, StoreUnavailableError } from './errors.ts'
import { LOCAL_ORIGIN, NamespaceDoc } from './namespace.ts'
import type { EntryWrite, PutOptions } from './namespace.ts'
import { PersistedNamespace, readStoredRecords } from './persisted-namespace.ts'
import type { KeyValueStore } from './key-value-store.ts'
import { LevelKeyValueStore } from './level-key-value-store.ts'
import { PolicyTable } from './policy.ts'
import type { NamespacePolicy, PolicyOverrides } from './policy.ts'
import { assertValidStateVector, isValidatedUpdate, validateRemoteUpdate } from './remote-update.ts'
import type { ValidatedUpdate } from './remote-update.ts'
import { splitUpdate } from './update-chunks.ts'

export interface MemoryStoreOptions {
  /** Per-namespace overrides of the seeded/default policies; named namespaces exist from the start. */
  policies?: PolicyOverrides
  /** Adjusts the default policy (of namespaces created by a write, and the base of seeded ones). */
  defaultPolicy?: Partial<NamespacePolicy>
  /**
   * Cap, in bytes, of every update returned by missingUpdates or passed to listeners, of every
   * update accepted by applyRemote, and of stored snapshot slices. Default 256 KiB.
   */
  chunkBytes?: number
  /**
   * Compact a namespace once its log holds this many updates. Default 1000. Both thresholds scale
   * with the snapshot once it exceeds half of compactAfterBytes.
   */
  compactAfterUpdates?: number
  /** ...or this many bytes of updates. Default 4 MiB. */
  compactAfterBytes?: number
  /**
   * Roll a namespace over to a new epoch (crdt/epoch-rollover.ts) when a compaction finds its
   * encoded state larger than this many bytes... Default 1 MiB; 0 disables automatic rollover.
   */
  rolloverAfterBytes?: number
  /** ...and more than this many times the size of its live entries (history dominates). Default 4. */
  rolloverHistoryRatio?: number
  /**
   * The store's time in ms, for TTLs when a call gives no `now` and for the entries an automatic
   * rollover carries over. Default: Date.now.
   */
  clock?: () => number
}

export interface StorePutOptions extends Omit<PutOptions, 'now'> {
  /** Default: the store's clock. */
  now?: number
}

export type StoreWriteOptions = Pick<StorePutOptions, 'author' | 'now'>

export interface StoreListOptions {
  prefix?: string
  /** Default: the store's clock. */
  now?: number
}

export interface NamespaceInfo {
  name: string
  entries: number
  bytes: number
  policy: NamespacePolicy
  lastUpdate: number | undefined
}

/** `origin` is 'local' for this replica's writes, otherwise the origin given to applyRemote. */
export type UpdateListener = (namespace: string, update: Uint8Array, origin: string) => void

interface Settings {
  readonly chunkBytes: number
  readonly compactAfterUpdates: number
  readonly compactAfterBytes: number
  readonly rolloverAfterBytes: number
  readonly rolloverHistoryRatio: number
  readonly clock: () => number
}

/** A write waiting for the next batch. */
interface PendingWrite {
  readonly namespace: string
  readonly policy: NamespacePolicy
  /** Whether the write creates its namespace when absent (a delete or sweep never does). */
  readonly create: boolean
  /** Transaction origin: consecutive writes to one namespace with the same origin share a transaction. */
  readonly origin: string
  /** A remote update's bytes: logged as received when its transaction changed the doc. */
  readonly remoteUpdate?: Uint8Array
  apply (doc: NamespaceDoc | undefined): void
  succeed (): void
  fail (error: unknown): void
}

interface CapturedUpdate {
  readonly namespace: string
  readonly update: Uint8Array
  readonly origin: string
}

/**
 * Compaction during a burst of writes (a catch-up, busy gossip, a client writing with many
 * requests in flight) waits for this pause in them: it re-encodes the whole namespace, which on a
 * catch-up's critical path cost 0.8 s of a 100k-entry transfer and ~9 % of a writer's time under
 * sustained load.
 */
const BURST_COMPACTION_PAUSE_MS = 300
/**
 * ...but not longer than this once it is due: writes that never pause (a busy node's churn) would
 * otherwise leave the log to grow to the overdue factor.
 */
const MAX_COMPACTION_DEFERRAL_MS = 2_000
/** A namespace whose snapshot is under this size compacts at once when its rollover may be due. */
const SMALL_NAMESPACE_BYTES = 8 * 1024 * 1024
/** ...unless the log has outgrown its compaction threshold this many times. */
const OVERDUE_FACTOR = 8
/**
 * The rollover check runs after a compaction, and compactions come at thresholds of 4 MiB of log
 * or more: under churn that never pauses, history outgrew the live data several times over between
 * two checks. So each compaction forecasts the next check: how much more log the snapshot needs to
 * reach the rollover size, at the rate the last log grew it, and the namespace compacts (without
 * deferral while small) once its log holds that much; at least this much, so a namespace just
 * short of the size is not compacted on every commit.
 */
const MIN_FORECAST_LOG_BYTES = 256 * 1024

/**
 * Remote update bytes one commit applies at most (whole updates; at least one). A catch-up hands
 * the store every chunk as it arrives: committing several at once saves a transaction and a disk
 * batch each, while an unbounded commit would hold the event loop for seconds.
 */
const MAX_REMOTE_BYTES_PER_COMMIT = 2 * 1024 * 1024

/** Encoded state vector of a replica that has nothing. */
const EMPTY_STATE_VECTOR = Uint8Array.of(0)

/**
 * Room a chunk needs beside an entry's value: key (twice: map key and entry field), author and
 * tags at their largest UTF-8 size plus Yjs framing come to about 8.3 KiB.
 */
const ENTRY_OVERHEAD_BYTES = 12 * 1024

/**
 * The smallest chunk cap that holds any entry whose value has the given JSON size. Yjs encodes a
 * number that is not a 32-bit float in 9 bytes, while its shortest JSON form with separator
 * ('0.1,') takes 4, so an encoded value is at most 9/4 of its JSON size; everything else encodes
 * no larger than its JSON.
 */
export function minimumChunkBytes (maxValueBytes: number): number {
  return Math.ceil(maxValueBytes * 9 / 4) + ENTRY_OVERHEAD_BYTES
}

function resolveSettings (options: MemoryStoreOptions, policies: PolicyTable): Settings {
  const settings = {
    chunkBytes: options.chunkBytes ?? 256 * 1024,
    compactAfterUpdates: options.compactAfterUpdates ?? 1000,
    compactAfterBytes: options.compactAfterBytes ?? 4 * 1024 * 1024
  }
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer`)
  }
  const rollover = {
    rolloverAfterBytes: options.rolloverAfterBytes ?? 1024 * 1024,
    rolloverHistoryRatio: options.rolloverHistoryRatio ?? 4
  }
  if (!Number.isSafeInteger(rollover.rolloverAfterBytes) || rollover.rolloverAfterBytes < 0) throw new RangeError('rolloverAfterBytes must be a non-negative integer')
  if (!(rollover.rolloverHistoryRatio >= 1)) throw new RangeError('rolloverHistoryRatio must be at least 1')
  const required = minimumChunkBytes(policies.largestValueBytes())
  if (required > settings.chunkBytes) {
    throw new InvalidNamespaceError(
      `a policy allows values of ${policies.largestValueBytes()} bytes, too large for chunkBytes ${settings.chunkBytes}: ` +
      `chunkBytes must be at least ${required}`
    )
  }
  return { ...settings, ...rollover, clock: options.clock ?? Date.now }
}

/**
 * Replicated namespaces persisted in LevelDB (layout in README.md).
 *
 * Every mutation (local write, remote update, sweep) goes through one queue. A drain of the queue
 * applies the waiting mutations to their docs, collects the Yjs updates they produce, writes them
 * to the namespaces' logs in one atomic batch, and only then resolves the callers and notifies
 * listeners. If the batch fails, the touched namespaces are reloaded from disk, so no doc keeps a
 * change that is not stored (roll back), and every caller of that batch gets the error. Between
 * apply and write, reads of this replica may already see the change; nothing is gossiped before
 * it is durable, but missingUpdates may hand it to a peer in that window.
 */
export class MemoryStore {
  readonly #db: KeyValueStore
  readonly #policies: PolicyTable
  readonly #settings: Settings
  readonly #namespaces = new Map<string, PersistedNamespace>()
  readonly #listeners = new Set<UpdateListener>()
  #queue: PendingWrite[] = []
  /** Work that replaces a whole namespace (rollover, adoption): run by the drain between batches. */
  #exclusive: Array<() => Promise<void>> = []
  #draining: Promise<void> | undefined
  /** Set while a drain applies mutations: every doc update lands here. */
  #captured: CapturedUpdate[] | undefined
  #unavailable: StoreUnavailableError | undefined
  #closing: Promise<void> | undefined
  /**
   * Per namespace, the log bytes after which its rollover may be due (see MIN_FORECAST_LOG_BYTES),
   * and the snapshot growth and log bytes of its recent compactions, halved at each, that forecast it.
   */
  readonly #rolloverForecasts = new Map<string, { logBytes: number, growthBytes: number, compactedLogBytes: number }>()
  /** Namespaces whose compaction waits for a pause in remote updates. */
  readonly #deferredCompactions = new Set<string>()
  #compactionTimer: NodeJS.Timeout | undefined
  /** When the oldest deferred compaction was deferred (performance.now()). */
  #deferredSince: number | undefined
  #compactionRequested = false
  /** Holders that asked compaction to wait (a catch-up exchange in progress). */
  #compactionHolds = 0

  private constructor (db: KeyValueStore, policies: PolicyTable, settings: Settings) {
    this.#db = db
    this.#policies = policies
    this.#settings = settings
  }

  /** Opens (creating if needed) the store in `dir`, on LevelDB, and loads every namespace. */
  static async open (dir: string, options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    return MemoryStore.openOn(await LevelKeyValueStore.open(dir), options)
  }

  /** Loads every namespace from `db`; the store owns it from now on and closes it on close. */
  static async openOn (db: KeyValueStore, options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    const policies = new PolicyTable(options.policies, options.defaultPolicy)
    const settings = resolveSettings(options, policies)
    const store = new MemoryStore(db, policies, settings)
    try {
      for (const [name, records] of await readStoredRecords(db)) {
        store.#adopt(PersistedNamespace.restore(name, policies.policyFor(name), records))
      }
      for (const name of policies.configuredNamespaces()) {
        if (!store.#namespaces.has(name)) store.#adopt(new PersistedNamespace(new NamespaceDoc(name, policies.policyFor(name))))
      }
    } catch (err) {
      await db.close()
      throw err
    }
    return store
  }

  /**
   * Runs now the compaction a burst of writes deferred, and resolves once it and every write queued
   * before the call are done: for an operator's backup, or to measure from a settled replica.
   */
  async settle (): Promise<void> {
    this.#assertAvailable()
    clearTimeout(this.#compactionTimer)
    if (this.#deferredCompactions.size > 0) this.#compactionRequested = true
    this.#draining ??= this.#drain()
    while (this.#draining !== undefined) await this.#draining
  }

  /**
   * Defers compaction (unless overdue) until the returned release is called: a catch-up exchange
   * holds it, since its sender can pause longer than a burst's pause while the receiver applies.
   */
  holdCompaction (): () => void {
    this.#compactionHolds++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#compactionHolds--
      if (this.#compactionHolds === 0 && this.#deferredCompactions.size > 0) this.#scheduleDeferredCompaction()
    }
  }

  /** Writes an entry; resolves once its update is on disk. */
  async put (namespace: string, key: string, value: JsonValue, options: StorePutOptions): Promise<Entry> {
    const now = options.now ?? this.#settings.clock()
    return this.#enqueue(namespace, LOCAL_ORIGIN, true, doc => doc.put(key, value, { ...options, now }))
  }

  /** Writes every entry of `writes` or none (crdt/namespace.ts: putMany); resolves once the batch is on disk. */
  async putMany (namespace: string, writes: readonly EntryWrite[], options: StoreWriteOptions): Promise<Entry[]> {
    const now = options.now ?? this.#settings.clock()
    return this.#enqueue(namespace, LOCAL_ORIGIN, true, doc => doc.putMany(writes, { author: options.author, now }))
  }

  /** Deletes an entry; resolves to false when there was none, else once the deletion is on disk. */
  async delete (namespace: string, key: string): Promise<boolean> {
    return this.#enqueue(namespace, LOCAL_ORIGIN, false, doc => doc?.delete(key) ?? false)
  }

  /**
   * Validates (unless validateRemoteUpdate already did), applies and persists an update received
   * from a peer. Duplicates and updates already known change nothing and write nothing. Parts that
   * depend on updates not received yet wait in memory inside Yjs and are logged once they apply;
   * the state vector excludes them meanwhile, so catch-up fetches them again if a restart loses them.
   */
  async applyRemote (namespace: string, update: Uint8Array | ValidatedUpdate, origin: string, epoch?: EpochId): Promise<void> {
    if (typeof origin !== 'string' || origin === LOCAL_ORIGIN) {
      throw new InvalidUpdateError(`origin must be a string other than "${LOCAL_ORIGIN}"`)
    }
    const bytes = isValidatedUpdate(update) ? update.bytes : validateRemoteUpdate(update, this.#settings.chunkBytes).bytes
    if (bytes.byteLength > this.#settings.chunkBytes) {
      throw new InvalidUpdateError(`update of ${bytes.byteLength} bytes exceeds the ${this.#settings.chunkBytes}-byte cap`)
    }
    await this.#enqueue(namespace, origin, true, doc => {
      // Checked when applied, not when queued: a rollover may run in between.
      if (epoch !== undefined && !sameEpoch(epoch, doc.epoch)) throw new EpochMismatchError(namespace, epoch, doc.epoch)
      doc.applyUpdate(bytes, origin)
    }, bytes)
  }

  /** The namespace's current epoch; epoch 0 for one never rolled over or not stored here. */
  epochOf (namespace: string): EpochRecord {
    return this.#read(namespace)?.epoch ?? EPOCH_ZERO
  }

  /**
   * Replaces the namespace's doc by the next epoch's, seeded with the entries live at `now`, and
   * drops its history from disk. Resolves to the new epoch (or undefined if the namespace does not exist).
   */
  async rollOver (namespace: string, now: number = this.#settings.clock()): Promise<EpochRecord | undefined> {
    return this.#runExclusive(async () => {
      const persisted = this.#namespaces.get(namespace)
      if (persisted === undefined) return undefined
      const next = seedNextEpoch(persisted.doc, now)
      await this.#replaceNamespace(namespace, next)
      return next.record
    })
  }

  /**
   * Adopts a newer epoch received from a peer: `parts` are its whole state. This replica's live
   * writes that the new epoch lacks (crdt/epoch-rollover.ts: entriesToCarry) are written into it
   * and reach peers as local updates. An epoch not newer than the current one changes nothing;
   * resolves to whether it was adopted.
   */
  async adoptEpoch (namespace: string, record: EpochRecord, parts: readonly Uint8Array[], origin: string, now: number = this.#settings.clock()): Promise<boolean> {
    this.#policies.policyFor(namespace)
    const validated = parts.map(part => validateRemoteUpdate(part, this.#settings.chunkBytes).bytes)
    return this.#runExclusive(async () => {
      const current = this.#namespaces.get(namespace)
      if (current !== undefined && compareEpochs(record, current.doc.epoch) <= 0) return false
      const next = new NamespaceDoc(namespace, this.#policies.policyFor(namespace), record)
      let carried: Uint8Array | undefined
      let state: Uint8Array
      try {
        for (const part of validated) next.applyUpdate(part, origin)
        carried = current === undefined ? undefined : carryInto(next, entriesToCarry(current.doc, next, now))
        state = next.encodeStateAsUpdate()
      } finally {
        next.destroy()
      }
      await this.#replaceNamespace(namespace, { record, state })
      this.#emit({ namespace, update: state, origin })
      if (carried !== undefined) this.#emit({ namespace, update: carried, origin: LOCAL_ORIGIN })
      return true
    })
  }

  /** Deletes expired entries in every namespace (persisted and gossiped like any write). */
  async sweep (now: number = this.#settings.clock()): Promise<number> {
    const swept = await Promise.all(
      [...this.#namespaces.keys()].map(name => this.#enqueue(name, LOCAL_ORIGIN, false, doc => doc?.sweep(now) ?? 0))
    )
    return swept.reduce((total, count) => total + count, 0)
  }

  get (namespace: string, key: string, now: number = this.#settings.clock()): Entry | undefined {
    return this.#read(namespace)?.get(key, now)
  }

  /** Live entries sorted by key. */
  list (namespace: string, options: StoreListOptions = {}): Entry[] {
    return this.#read(namespace)?.list({ prefix: options.prefix, now: options.now ?? this.#settings.clock() }) ?? []
  }

  stateVector (namespace: string): Uint8Array {
    return this.#read(namespace)?.stateVector() ?? EMPTY_STATE_VECTOR
  }

  /**
   * What a replica at `remoteStateVector` lacks, as updates of at most chunkBytes each, encoded
   * one at a time as they are taken (a sender can stream them). Always includes this replica's
   * deletions, which state vectors do not track; empty when there is nothing at all to send.
   * Iteration ends early if the store closes.
   */
  missingUpdates (namespace: string, remoteStateVector: Uint8Array): Iterable<Uint8Array> {
    assertValidStateVector(remoteStateVector)
    const doc = this.#read(namespace)
    if (doc === undefined) return []
    const updates = doc.missingUpdates(remoteStateVector, this.#settings.chunkBytes)
    const store = this
    return (function * () {
      for (const update of updates) {
        if (store.#unavailable !== undefined) return
        yield update
      }
    })()
  }

  /** Registers a listener for durable updates; returns its unsubscribe function. */
  onUpdate (listener: UpdateListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Names of the namespaces held, sorted; cheaper than namespaces(), which sizes every entry. */
  namespaceNames (): string[] {
    this.#assertAvailable()
    return [...this.#namespaces.keys()].sort()
  }

  /** Live and expired entries stored in `namespace` (0 when absent), without sizing them. */
  entryCount (namespace: string): number {
    return this.#read(namespace)?.entryCount ?? 0
  }

  namespaces (): NamespaceInfo[] {
    this.#assertAvailable()
    return [...this.#namespaces.values()]
      .map(({ doc }) => ({ name: doc.name, ...doc.stats(), policy: doc.policy }))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  /** Waits for queued writes, then closes the database. Later calls fail with StoreUnavailableError. */
  async close (): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close (): Promise<void> {
    this.#unavailable ??= new StoreUnavailableError('the memory store is closed')
    clearTimeout(this.#compactionTimer)
    await this.#draining
    for (const { doc } of this.#namespaces.values()) doc.destroy()
    this.#namespaces.clear()
    await this.#db.close()
  }

  #assertAvailable (): void {
    if (this.#unavailable !== undefined) throw this.#unavailable
  }

  #read (namespace: string): NamespaceDoc | undefined {
    this.#assertAvailable()
    this.#policies.policyFor(namespace)
    return this.#namespaces.get(namespace)?.doc
  }

  /** Stores `next` in place of everything the namespace had, then swaps its doc. Runs exclusively. */
  async #replaceNamespace (namespace: string, next: NextEpoch): Promise<void> {
    const { operations, records } = await planEpochReplacement(this.#db, namespace, next.record, next.state, this.#settings.chunkBytes)
    await this.#db.batch(operations)
    const restored = PersistedNamespace.restore(namespace, this.#policies.policyFor(namespace), records)
    this.#namespaces.get(namespace)?.doc.destroy()
    this.#adopt(restored)
  }

  #runExclusive<T> (task: () => Promise<T>): Promise<T> {
    this.#assertAvailable()
    return new Promise<T>((resolve, reject) => {
      this.#exclusive.push(async () => { await task().then(resolve, reject) })
      this.#draining ??= this.#drain()
    })
  }

  #adopt (persisted: PersistedNamespace): void {
    const namespace = persisted.doc.name
    this.#namespaces.set(namespace, persisted)
    persisted.doc.onUpdate((update, origin) => {
      if (this.#captured === undefined) throw new Error(`namespace "${namespace}" changed outside the write queue`)
      this.#captured.push({ namespace, update, origin })
    })
  }

  #enqueue<T> (namespace: string, origin: string, create: true, mutate: (doc: NamespaceDoc) => T, remoteUpdate?: Uint8Array): Promise<T>
  #enqueue<T> (namespace: string, origin: string, create: false, mutate: (doc: NamespaceDoc | undefined) => T): Promise<T>
  #enqueue<T> (namespace: string, origin: string, create: boolean, mutate: (doc: NamespaceDoc) => T, remoteUpdate?: Uint8Array): Promise<T> {
    this.#assertAvailable()
    const policy = this.#policies.policyFor(namespace)
    return new Promise<T>((resolve, reject) => {
      let result!: T
      this.#queue.push({
        namespace,
        policy,
        create,
        origin,
        remoteUpdate,
        // Undefined only without `create`, whose overload accepts it.
        apply: (doc) => { result = mutate(doc as NamespaceDoc) },
        succeed: () => resolve(result),
        fail: reject
      })
      this.#draining ??= this.#drain()
    })
  }

  /** The namespace's doc, created first when a write of `run` may create it. */
  #docFor (run: readonly PendingWrite[]): NamespaceDoc | undefined {
    const first = run[0] as PendingWrite
    let persisted = this.#namespaces.get(first.namespace)
    if (persisted === undefined && run.some(write => write.create)) {
      persisted = new PersistedNamespace(new NamespaceDoc(first.namespace, first.policy))
      this.#adopt(persisted)
    }
    return persisted?.doc
  }

  async #drain (): Promise<void> {
    try {
      // Writes issued in the same tick as the first one join its batch.
      await Promise.resolve()
      while (this.#queue.length > 0 || this.#exclusive.length > 0 || this.#compactionRequested) {
        if (this.#queue.length === 0 && this.#exclusive.length === 0) {
          this.#compactionRequested = false
          this.#deferredSince = undefined
          for (const namespace of this.#deferredCompactions) {
            this.#deferredCompactions.delete(namespace)
            if (this.#namespaces.has(namespace)) await this.#compactIfDue(namespace)
          }
          continue
        }
        const group = this.#takeGroup()
        // Settling twice is a no-op, so on an unexpected error every caller not yet answered gets it.
        if (group.length > 0) await this.#commit(group).catch(err => { for (const write of group) write.fail(err) })
        await this.#exclusive.shift()?.()
      }
    } finally {
      this.#draining = undefined
    }
  }

  /** The writes of the next commit: all waiting, up to MAX_REMOTE_BYTES_PER_COMMIT of remote updates. */
  #takeGroup (): PendingWrite[] {
    let remoteBytes = 0
    let count = 0
    for (const write of this.#queue) {
      count++
      remoteBytes += write.remoteUpdate?.byteLength ?? 0
      if (remoteBytes >= MAX_REMOTE_BYTES_PER_COMMIT) break
    }
    return this.#queue.splice(0, count)
  }

  async #commit (group: PendingWrite[]): Promise<void> {
    const captured: CapturedUpdate[] = []
    const applied: PendingWrite[] = []
    /** Namespaces where a remote update failed part-way: the doc may hold changes no record describes. */
    const unrecorded = new Set<string>()
    this.#captured = captured
    const applyEach = (run: readonly PendingWrite[], doc: NamespaceDoc | undefined): PendingWrite[] => {
      const succeeded: PendingWrite[] = []
      for (const write of run) {
        try {
          write.apply(doc)
          succeeded.push(write)
        } catch (err) {
          // A failed local mutation may still have changed its doc (Yjs commits what it applied); that part is captured and stored below.
          // An update of another epoch was refused before it touched the doc.
          if (write.remoteUpdate !== undefined && !(err instanceof EpochMismatchError)) unrecorded.add(write.namespace)
          write.fail(err)
        }
      }
      applied.push(...succeeded)
      return succeeded
    }
    try {
      for (const run of runsOfOneTransaction(group)) {
        const doc = this.#docFor(run)
        if (doc === undefined) {
          applyEach(run, undefined)
          continue
        }
        const { namespace, origin } = run[0] as PendingWrite
        let succeeded: PendingWrite[] = []
        const effect = doc.batch(origin, () => { succeeded = applyEach(run, doc) })
        // Remote updates are logged as received, in order, when the transaction changed anything or
        // left parts waiting for a dependency: replaying them reproduces the same doc.
        if (effect.changed || effect.heldBack) {
          for (const write of succeeded) {
            if (write.remoteUpdate !== undefined) captured.push({ namespace, update: write.remoteUpdate, origin })
          }
        }
      }
    } finally {
      this.#captured = undefined
    }

    const touched = new Set(captured.map(({ namespace }) => namespace))
    if (captured.length > 0) {
      try {
        await this.#db.batch(captured.map(({ namespace, update }) => this.#persisted(namespace).append(update)))
      } catch (err) {
        await this.#rollBack(touched)
        for (const write of applied) write.fail(err)
        return
      }
      for (const change of captured) this.#emit(change)
    }
    if (unrecorded.size > 0) await this.#rollBack(unrecorded)
    for (const write of applied) write.succeed()
    // Remote updates come in bursts; local writes are one when several were waiting for this commit.
    const inBurst = group.length > 1 || group.every(write => write.remoteUpdate !== undefined) || this.#compactionHolds > 0
    for (const namespace of touched) {
      if (inBurst && this.#compactionPressure(namespace) < OVERDUE_FACTOR && !this.#rolloverCheckDue(namespace)) this.#deferCompaction(namespace)
      else await this.#compactIfDue(namespace)
    }
  }

  #deferCompaction (namespace: string): void {
    if (this.#compactionPressure(namespace) < 1) return
    this.#deferredCompactions.add(namespace)
    this.#scheduleDeferredCompaction()
  }

  #scheduleDeferredCompaction (): void {
    clearTimeout(this.#compactionTimer)
    this.#deferredSince ??= performance.now()
    const waited = performance.now() - this.#deferredSince
    this.#compactionTimer = setTimeout(() => {
      // A hold's release schedules it again.
      if (this.#unavailable !== undefined || this.#compactionHolds > 0) return
      this.#compactionRequested = true
      this.#draining ??= this.#drain()
    }, Math.max(0, Math.min(BURST_COMPACTION_PAUSE_MS, MAX_COMPACTION_DEFERRAL_MS - waited)))
    this.#compactionTimer.unref()
  }

  #persisted (namespace: string): PersistedNamespace {
    const persisted = this.#namespaces.get(namespace)
    if (persisted === undefined) throw new Error(`namespace "${namespace}" is not loaded`)
    return persisted
  }

  /** Replaces each namespace by what is on disk, dropping changes whose batch failed. */
  async #rollBack (namespaces: Iterable<string>): Promise<void> {
    for (const name of namespaces) {
      try {
        const records = (await readStoredRecords(this.#db, name)).get(name) ?? { snapshot: new Map(), log: new Map() }
        const restored = PersistedNamespace.restore(name, this.#policies.policyFor(name), records)
        this.#persisted(name).doc.destroy()
        this.#adopt(restored)
      } catch (err) {
        this.#unavailable ??= new StoreUnavailableError(`namespace "${name}" could not be reloaded after a failed write`, { cause: err })
      }
    }
  }

  #emit ({ namespace, update, origin }: CapturedUpdate): void {
    for (const part of splitUpdate(update, this.#settings.chunkBytes)) {
      for (const listener of this.#listeners) {
        try {
          listener(namespace, part, origin)
        } catch (err) {
          // A listener's bug must not break the write pipeline; report it as uncaught.
          queueMicrotask(() => { throw err })
        }
      }
    }
  }

  /** How far the namespace's log is past its compaction threshold (1: due). */
  #compactionPressure (namespace: string): number {
    const persisted = this.#persisted(namespace)
    const { compactAfterUpdates, compactAfterBytes } = this.#settings
    // Compaction re-encodes the whole namespace, so a large one lets its log grow to twice its
    // snapshot: total compaction work stays linear in what is written, even during a catch-up.
    const scale = Math.max(1, 2 * persisted.snapshotBytes / compactAfterBytes)
    return Math.max(persisted.logLength / (compactAfterUpdates * scale), persisted.logBytes / (compactAfterBytes * scale))
  }

  /**
   * Log bytes after which the namespace's rollover may be due: forecast by its last compaction, or,
   * before one, the bytes it lacks to reach the rollover size (a log byte grows the snapshot by at most about one).
   */
  #rolloverForecast (namespace: string): number {
    const forecast = this.#rolloverForecasts.get(namespace)
    if (forecast !== undefined) return forecast.logBytes
    const { rolloverAfterBytes } = this.#settings
    const snapshotBytes = this.#persisted(namespace).snapshotBytes
    return rolloverAfterBytes > 0 && snapshotBytes < rolloverAfterBytes ? Math.max(MIN_FORECAST_LOG_BYTES, rolloverAfterBytes - snapshotBytes) : Number.POSITIVE_INFINITY
  }

  /**
   * A small namespace whose rollover may be due compacts at once, not after a burst: its compaction
   * costs little, and at a busy node's churn rate a deferral lets history outgrow the live data again.
   * A catch-up's hold still defers it (the exchange brings whole states, not churn).
   */
  #rolloverCheckDue (namespace: string): boolean {
    if (this.#compactionHolds > 0) return false
    const persisted = this.#persisted(namespace)
    return persisted.snapshotBytes < SMALL_NAMESPACE_BYTES && persisted.logBytes >= this.#rolloverForecast(namespace)
  }

  async #compactIfDue (namespace: string): Promise<void> {
    if (this.#compactionPressure(namespace) < 1 && !this.#rolloverCheckDue(namespace)) return
    const persisted = this.#persisted(namespace)
    const before = { snapshotBytes: persisted.snapshotBytes, logBytes: persisted.logBytes }
    const { chunkBytes } = this.#settings
    try {
      const plan = persisted.planCompaction(chunkBytes)
      await this.#db.batch(plan.operations)
      plan.commit()
    } catch {
      // Nothing was written: the log still holds everything, and compaction is retried after the next write.
      return
    }
    await this.#rollOverIfDue(namespace, { growthBytes: persisted.snapshotBytes - before.snapshotBytes, logBytes: before.logBytes })
  }

  /**
   * After a compaction, the snapshot size is known: roll over when history dominates it, and
   * forecast the next check from how much the compacted logs grew the snapshot.
   */
  async #rollOverIfDue (namespace: string, compacted: { growthBytes: number, logBytes: number }): Promise<void> {
    const { rolloverAfterBytes, rolloverHistoryRatio } = this.#settings
    if (rolloverAfterBytes === 0) return
    const persisted = this.#persisted(namespace)
    // Sizing the live entries may stringify many received ones: only once the snapshot could roll over.
    const dueAt = persisted.snapshotBytes < rolloverAfterBytes ? rolloverAfterBytes : Math.max(rolloverAfterBytes, rolloverHistoryRatio * persisted.doc.stats().bytes)
    let snapshotBytes = persisted.snapshotBytes
    if (snapshotBytes >= dueAt) {
      try {
        await this.#replaceNamespace(namespace, seedNextEpoch(persisted.doc, this.#settings.clock()))
        snapshotBytes = this.#persisted(namespace).snapshotBytes
      } catch {
        // Nothing was replaced (the batch is atomic): the namespace stays on its epoch and the next compaction retries.
      }
    }
    // Smoothed over recent compactions: one small log says little about the rate.
    const previous = this.#rolloverForecasts.get(namespace)
    const growthBytes = (previous?.growthBytes ?? 0) / 2 + compacted.growthBytes
    const compactedLogBytes = (previous?.compactedLogBytes ?? 0) / 2 + compacted.logBytes
    const growthPerLogByte = growthBytes / Math.max(1, compactedLogBytes)
    const logBytes = growthPerLogByte > 0 ? Math.max(MIN_FORECAST_LOG_BYTES, (dueAt - snapshotBytes) / growthPerLogByte) : Number.POSITIVE_INFINITY
    this.#rolloverForecasts.set(namespace, { logBytes, growthBytes, compactedLogBytes })
  }
}

/** Splits a batch into runs of consecutive writes to one namespace with one origin. */
function runsOfOneTransaction (group: readonly PendingWrite[]): PendingWrite[][] {
  const runs: PendingWrite[][] = []
  let run: PendingWrite[] = []
  for (const write of group) {
    const last = run[run.length - 1]
    if (last !== undefined && (last.namespace !== write.namespace || last.origin !== write.origin)) {
      runs.push(run)
      run = []
    }
    run.push(write)
  }
  if (run.length > 0) runs.push(run)
  return runs
}
