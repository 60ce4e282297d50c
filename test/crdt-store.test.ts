import { Level } from 'level'
import * as Y from 'yjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  CorruptNamespaceError, DEFAULT_POLICY, InvalidNamespaceError, InvalidUpdateError, LOCAL_ORIGIN, NamespaceDoc,
  NamespaceLimitError, StoreUnavailableError
} from '../crdt/index.ts'
import type { MemoryStore } from '../crdt/index.ts'
import { minimumChunkBytes } from '../crdt/index.ts'
import { useStoreFixture } from './helpers/crdt-fixtures.ts'

const author = '12D3KooWAuthor'
const fixture = useStoreFixture()

afterEach(() => {
  vi.restoreAllMocks()
})

/** Opens the raw database of a closed store, to inspect or damage it. */
async function withRawDb (dir: string, action: (db: Level<string, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  try {
    await action(db)
  } finally {
    await db.close()
  }
}

async function rawKeys (dir: string): Promise<string[]> {
  let keys: string[] = []
  await withRawDb(dir, async db => { keys = await db.keys().all() })
  return keys
}

function contents (store: MemoryStore, namespace: string): unknown[] {
  return store.list(namespace, { now: 0 })
}

describe('MemoryStore durability', () => {
  it('keeps acknowledged writes and deletions across close and reopen', async () => {
    const dir = await fixture.tempDir()
    const store = await fixture.open(dir)
    await store.put('notes', 'a', { text: 'alpha' }, { author, now: 1, tags: ['t'] })
    await store.put('notes', 'b', 2, { author, now: 2 })
    await store.put('swarm-state', 'leader', 'peer-1', { author, now: 3 })
    expect(await store.delete('notes', 'b')).toBe(true)
    expect(await store.delete('notes', 'never-written')).toBe(false)
    const before = { notes: contents(store, 'notes'), swarm: contents(store, 'swarm-state'), stateVector: store.stateVector('notes') }
    await store.close()

    const reopened = await fixture.open(dir)
    expect(contents(reopened, 'notes')).toEqual(before.notes)
    expect(contents(reopened, 'swarm-state')).toEqual(before.swarm)
    expect(reopened.get('notes', 'a', 1)).toMatchObject({ value: { text: 'alpha' }, tags: ['t'], createdAt: 1 })
    expect(reopened.get('swarm-state', 'leader', 3)?.expiresAt).toBe(3 + 3_600_000)
    expect(reopened.stateVector('notes')).toEqual(before.stateVector)
  })

  it('writes each burst of concurrent writes as one batch and resolves every caller', async () => {
    const { store, batches } = await fixture.openRecording()
    const writes = Array.from({ length: 50 }, (_, i) => store.put('burst', `k${i}`, i, { author, now: i }))
    const entries = await Promise.all(writes)
    expect(entries.map(entry => entry.value)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(batches).toHaveLength(1)
  })

  it('compacts the log into a snapshot without losing anything, and the state survives reopen', async () => {
    const dir = await fixture.tempDir()
    const options = { compactAfterUpdates: 10, chunkBytes: minimumChunkBytes(1024), defaultPolicy: { maxValueBytes: 1024 } }
    const store = await fixture.open(dir, options)
    for (let i = 0; i < 95; i++) {
      await store.put('log-heavy', `k${i % 40}`, 'x'.repeat(500 + i), { author, now: i })
      if (i % 7 === 0) await store.delete('log-heavy', `k${(i * 3) % 40}`)
    }
    const expected = contents(store, 'log-heavy')
    const stateVector = store.stateVector('log-heavy')
    await store.close()

    const keys = await rawKeys(dir)
    const snapshotKeys = keys.filter(key => key.startsWith('ns/log-heavy/snapshot/'))
    const logKeys = keys.filter(key => key.startsWith('ns/log-heavy/log/'))
    expect(snapshotKeys.length).toBeGreaterThan(1)
    expect(logKeys.length).toBeLessThan(10)

    const reopened = await fixture.open(dir, options)
    expect(contents(reopened, 'log-heavy')).toEqual(expected)
    expect(reopened.stateVector('log-heavy')).toEqual(stateVector)
    await reopened.put('log-heavy', 'after', 1, { author, now: 100 })
    expect(reopened.get('log-heavy', 'after', 100)?.value).toBe(1)
  })

  it('lets the log of a large namespace grow with its snapshot, so compactions stay few', async () => {
    const dir = await fixture.tempDir()
    const options = { compactAfterUpdates: 10, compactAfterBytes: 4096, chunkBytes: minimumChunkBytes(1024), defaultPolicy: { maxValueBytes: 1024 } }
    const { store, batches } = await fixture.openRecording(dir, options)
    for (let i = 0; i < 300; i++) await store.put('growing', `k${i}`, 'x'.repeat(500), { author, now: i })
    const compactions = batches.filter(operations => operations.some(op => op.key.includes('/snapshot/'))).length
    // Unscaled thresholds would compact every 10 writes (30 times); the snapshot roughly doubles between scaled ones.
    expect(compactions).toBeGreaterThan(2)
    expect(compactions).toBeLessThan(10)
    const expected = contents(store, 'growing')
    await store.close()
    const reopened = await fixture.open(dir, options)
    expect(contents(reopened, 'growing')).toEqual(expected)
  })

  it('defers compaction during a burst of concurrent writes, and settle() runs it at once', async () => {
    const dir = await fixture.tempDir()
    const options = { compactAfterUpdates: 10 }
    const { store, batches } = await fixture.openRecording(dir, options)
    const snapshotBatches = (): number => batches.filter(operations => operations.some(op => op.key.includes('/snapshot/'))).length
    for (let round = 0; round < 30; round++) {
      await Promise.all(Array.from({ length: 5 }, async (_, i) => store.put('bursty', `k${round}-${i}`, i, { author, now: round })))
    }
    // 30 logged batches, three times the threshold: a one-by-one writer would have compacted twice.
    expect(snapshotBatches()).toBe(0)
    await store.settle()
    expect(snapshotBatches()).toBe(1)
    const expected = contents(store, 'bursty')
    expect(expected).toHaveLength(150)
    await store.close()
    const keys = await rawKeys(dir)
    expect(keys.filter(key => key.startsWith('ns/bursty/log/'))).toHaveLength(0)
    expect(contents(await fixture.open(dir, options), 'bursty')).toEqual(expected)
  })

  it('compacts within about 2 s of being due when concurrent writes never pause', async () => {
    // Below the overdue factor (8 times the threshold of 10), so only the deferral's limit can compact.
    const { store, batches } = await fixture.openRecording(await fixture.tempDir(), { compactAfterUpdates: 10 })
    const snapshotBatches = (): number => batches.filter(operations => operations.some(op => op.key.includes('/snapshot/'))).length
    const started = performance.now()
    let round = 0
    while (snapshotBatches() === 0 && performance.now() - started < 6_000) {
      await Promise.all(Array.from({ length: 5 }, async (_, i) => store.put('busy', `k${round % 15}-${i}`, round, { author, now: round })))
      round++
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(snapshotBatches()).toBe(1)
    // Due after 10 batches (about 1 s of them), then deferred for at most 2 s more.
    expect(performance.now() - started).toBeLessThan(4_500)
    expect(round).toBeLessThan(80)
  })

  it('holds deferred compaction while a holder asks, and compacts after the release and a pause', async () => {
    const { store, batches } = await fixture.openRecording(await fixture.tempDir(), { compactAfterUpdates: 10 })
    const snapshotBatches = (): number => batches.filter(operations => operations.some(op => op.key.includes('/snapshot/'))).length
    const release = store.holdCompaction()
    // One write at a time: without the hold, each would compact once the log is due.
    for (let i = 0; i < 25; i++) await store.put('held', `k${i}`, i, { author, now: i })
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(snapshotBatches()).toBe(0)
    release()
    release()
    await vi.waitFor(() => { expect(snapshotBatches()).toBe(1) }, { timeout: 5_000, interval: 20 })
  })

  it('reads, writes, sweeps and rolls over on its clock when a call gives no time', async () => {
    let now = 1_000
    const store = await fixture.open(await fixture.tempDir(), { clock: () => now })
    const written = await store.put('task-queue', 'short', 1, { author, ttlMs: 10 })
    await store.put('task-queue', 'long', 2, { author, ttlMs: 1_000 })
    expect(written.updatedAt).toBe(1_000)
    now = 1_020
    expect(store.get('task-queue', 'short')).toBeUndefined()
    expect(store.list('task-queue').map(entry => entry.key)).toEqual(['long'])
    await store.rollOver('task-queue')
    now = 0
    // The rollover carried over only what was live at the clock's time.
    expect(store.list('task-queue').map(entry => entry.key)).toEqual(['long'])
    expect(await store.sweep()).toBe(0)
  })

  it('persists sweeps of expired entries', async () => {
    const dir = await fixture.tempDir()
    const store = await fixture.open(dir)
    await store.put('task-queue', 'old', 1, { author, now: 0, ttlMs: 10 })
    await store.put('task-queue', 'new', 2, { author, now: 0 })
    expect(store.list('task-queue', { now: 20 }).map(entry => entry.key)).toEqual(['new'])
    expect(await store.sweep(20)).toBe(1)
    await store.close()
    const reopened = await fixture.open(dir)
    expect(contents(reopened, 'task-queue')).toHaveLength(1)
  })
})

describe('MemoryStore corruption', () => {
  async function storeWithData (options = {}): Promise<string> {
    const dir = await fixture.tempDir()
    const store = await fixture.open(dir, options)
    for (let i = 0; i < 20; i++) await store.put('precious', `k${i}`, 'v'.repeat(900), { author, now: i })
    await store.close()
    return dir
  }

  async function expectCorrupt (dir: string, options = {}): Promise<void> {
    const opening = fixture.open(dir, options)
    await expect(opening).rejects.toBeInstanceOf(CorruptNamespaceError)
    await expect(opening).rejects.toMatchObject({ namespace: 'precious' })
    await expect(opening).rejects.toThrow('"precious"')
  }

  it('refuses to open when a log update is garbage', async () => {
    const dir = await storeWithData()
    await withRawDb(dir, async db => {
      const key = (await db.keys().all()).find(k => k.startsWith('ns/precious/log/')) as string
      await db.put(key, Uint8Array.from([1, 2, 3, 4, 5, 6, 7]))
    })
    await expectCorrupt(dir)
  })

  it('refuses to open when a snapshot chunk is damaged or missing', async () => {
    const options = { compactAfterUpdates: 5, chunkBytes: minimumChunkBytes(1024), defaultPolicy: { maxValueBytes: 1024 } }
    const damaged = await storeWithData(options)
    await withRawDb(damaged, async db => {
      const key = (await db.keys().all()).find(k => k.startsWith('ns/precious/snapshot/')) as string
      const record = await db.get(key) as Uint8Array
      record[record.length - 1] ^= 0xff
      await db.put(key, record)
    })
    await expectCorrupt(damaged, options)

    const missing = await storeWithData(options)
    expect(await rawKeys(missing)).toContain('ns/precious/snapshot/00000001')
    await withRawDb(missing, async db => { await db.del('ns/precious/snapshot/00000000') })
    await expectCorrupt(missing, options)
    await expect(fixture.open(missing, options)).rejects.toThrow('snapshot chunk 0 is missing')
  })

  it('refuses to open when a key does not belong to the layout', async () => {
    const dir = await storeWithData()
    await withRawDb(dir, async db => { await db.put('ns/precious/mystery', Uint8Array.of(0)) })
    await expectCorrupt(dir)
  })
})

describe('MemoryStore remote updates', () => {
  function entryUpdate (key: string, value: unknown): Uint8Array {
    const doc = new Y.Doc()
    doc.getMap('entries').set(key, value)
    return Y.encodeStateAsUpdate(doc)
  }

  it('applies, persists and reports valid updates, and ignores duplicates', async () => {
    const dir = await fixture.tempDir()
    const store = await fixture.open(dir)
    const seen: Array<[string, string]> = []
    store.onUpdate((namespace, _update, origin) => seen.push([namespace, origin]))

    const source = new NamespaceDoc('shared-knowledge', DEFAULT_POLICY)
    source.put('fact', 'water is wet', { author: 'remote', now: 5 })
    const update = source.encodeStateAsUpdate()
    await store.applyRemote('shared-knowledge', update, 'peer-a')
    await store.applyRemote('shared-knowledge', update, 'peer-b')
    expect(seen).toEqual([['shared-knowledge', 'peer-a']])

    await store.put('shared-knowledge', 'mine', 1, { author, now: 6 })
    expect(seen[1]).toEqual(['shared-knowledge', LOCAL_ORIGIN])
    await store.close()
    const reopened = await fixture.open(dir)
    expect(reopened.get('shared-knowledge', 'fact', 5)?.value).toBe('water is wet')
  })

  it('rejects undecodable, oversized and out-of-model updates without changing anything', async () => {
    const store = await fixture.open(undefined, { chunkBytes: 16 * 1024, defaultPolicy: { maxValueBytes: 1024 } })
    const valid = { key: 'k', value: 1, author, createdAt: 1, updatedAt: 1, tags: [] }
    const text = new Y.Doc()
    text.getText('notes').insert(0, 'hello')
    const nested = new Y.Doc()
    nested.getMap('entries').set('k', new Y.Map())

    const invalid: Array<[string, Uint8Array]> = [
      ['garbage', Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])],
      ['oversized', entryUpdate('k', { ...valid, value: 'x'.repeat(17 * 1024) })],
      ['other root type', Y.encodeStateAsUpdate(text)],
      ['non-entry value', entryUpdate('k', 42)],
      ['entry with extra fields', entryUpdate('k', { ...valid, admin: true })],
      ['entry under another key', entryUpdate('other', valid)],
      ['nested type', Y.encodeStateAsUpdate(nested)]
    ]
    for (const [name, update] of invalid) {
      await expect(store.applyRemote('notes', update, 'peer'), name).rejects.toBeInstanceOf(InvalidUpdateError)
    }
    await expect(store.applyRemote('notes', entryUpdate('k', valid), LOCAL_ORIGIN)).rejects.toThrow(InvalidUpdateError)
    expect(store.stateVector('notes')).toEqual(Uint8Array.of(0))
    expect(() => store.missingUpdates('notes', Uint8Array.of(5))).toThrow(InvalidUpdateError)

    await store.applyRemote('notes', entryUpdate('k', valid), 'peer')
    expect(store.get('notes', 'k', 1)).toEqual(valid)
  })
})

describe('MemoryStore errors and bookkeeping', () => {
  it('rolls back a write whose batch fails and surfaces the disk error', async () => {
    const dir = await fixture.tempDir()
    const { store, failNextBatch } = await fixture.openRecording(dir)
    await store.put('notes', 'kept', 1, { author, now: 1 })
    const listener = vi.fn()
    store.onUpdate(listener)
    const diskFull = Object.assign(new Error('IO error: No space left on device'), { code: 'ENOSPC' })
    failNextBatch(diskFull)

    const failed = store.put('notes', 'lost', 2, { author, now: 2 })
    const failedDelete = store.delete('notes', 'kept')
    await expect(failed).rejects.toBe(diskFull)
    await expect(failedDelete).rejects.toBe(diskFull)
    expect(listener).not.toHaveBeenCalled()
    expect(store.get('notes', 'lost', 2)).toBeUndefined()
    expect(store.get('notes', 'kept', 2)?.value).toBe(1)

    await store.put('notes', 'later', 3, { author, now: 3 })
    expect(listener).toHaveBeenCalledTimes(1)
    await store.close()
    const reopened = await fixture.open(dir)
    expect(contents(reopened, 'notes').map(entry => (entry as { key: string }).key)).toEqual(['kept', 'later'])
  })

  it('enforces namespace limits on writes, changing nothing', async () => {
    const store = await fixture.open(undefined, { policies: { tiny: { maxEntries: 1 } } })
    await store.put('tiny', 'one', 1, { author, now: 1 })
    await expect(store.put('tiny', 'two', 2, { author, now: 1 })).rejects.toBeInstanceOf(NamespaceLimitError)
    await expect(store.put('tiny', 'two', 2, { author, now: 1 })).rejects.toThrow(/"tiny".*maxEntries/)
    expect(store.list('tiny', { now: 1 })).toHaveLength(1)
  })

  it('holds limits for writes committed together, and stores them as one update', async () => {
    const store = await fixture.open(undefined, { policies: { tiny: { maxEntries: 3 } } })
    const updates: Uint8Array[] = []
    store.onUpdate((namespace, update) => { if (namespace === 'tiny') updates.push(update) })
    // Issued in one tick, so they join one batch and one transaction.
    const results = await Promise.allSettled([
      store.put('tiny', 'a', 1, { author, now: 1 }),
      store.put('tiny', 'a', 2, { author, now: 1 }),
      store.put('tiny', 'b', 3, { author, now: 1 }),
      store.put('tiny', 'c', 4, { author, now: 1 }),
      store.put('tiny', 'd', 5, { author, now: 1 }),
      store.delete('tiny', 'b'),
      store.put('tiny', 'e', 6, { author, now: 1 })
    ])
    expect(results.map(result => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    expect(store.list('tiny', { now: 1 }).map(entry => [entry.key, entry.value])).toEqual([['a', 2], ['c', 4], ['e', 6]])
    expect(store.namespaces().find(info => info.name === 'tiny')?.entries).toBe(3)
    expect(updates).toHaveLength(1)
    await expect(store.put('tiny', 'f', 7, { author, now: 1 })).rejects.toThrow(/maxEntries/)
  })

  it('lists seeded, configured and written namespaces with their policies', async () => {
    const store = await fixture.open(undefined, { policies: { configured: { maxEntries: 7 } } })
    await store.put('written', 'k', 'v', { author, now: 42 })
    const infos = store.namespaces()
    expect(infos.map(info => info.name)).toEqual(['configured', 'shared-knowledge', 'swarm-state', 'task-queue', 'written'])
    expect(infos.find(info => info.name === 'configured')?.policy.maxEntries).toBe(7)
    expect(infos.find(info => info.name === 'swarm-state')?.policy.defaultTtlMs).toBe(3_600_000)
    const written = infos.find(info => info.name === 'written')
    expect(written).toMatchObject({ entries: 1, lastUpdate: 42, policy: { ...DEFAULT_POLICY } })
    expect(written?.bytes).toBeGreaterThan(0)
  })

  it('rejects invalid namespace names and use after close', async () => {
    const store = await fixture.open()
    await expect(store.put('Bad Name', 'k', 1, { author })).rejects.toBeInstanceOf(InvalidNamespaceError)
    expect(() => store.get('../escape', 'k')).toThrow(InvalidNamespaceError)
    await store.close()
    await expect(store.put('notes', 'k', 1, { author })).rejects.toBeInstanceOf(StoreUnavailableError)
    expect(() => store.list('notes')).toThrow(StoreUnavailableError)
    await store.close()
  })

  it('fits the largest entry a policy allows into one update at the smallest accepted chunk cap', async () => {
    const maxValueBytes = 4096
    const chunkBytes = minimumChunkBytes(maxValueBytes)
    const store = await fixture.open(undefined, { chunkBytes, defaultPolicy: { maxValueBytes } })
    const emitted: Uint8Array[] = []
    store.onUpdate((_namespace, update) => emitted.push(update))
    const wide = (length: number): string => '€'.repeat(length)
    // '0.1,' is the JSON form that grows the most in Yjs's encoding (4 bytes to 9).
    const value = Array.from({ length: 1023 }, () => 0.1)
    expect(Buffer.byteLength(JSON.stringify(value))).toBeLessThanOrEqual(maxValueBytes)
    await store.put('worst', wide(256), value, {
      author: wide(128), now: Number.MAX_SAFE_INTEGER - 1, ttlMs: 1, tags: Array.from({ length: 32 }, () => wide(64))
    })
    const updates = [...emitted, ...store.missingUpdates('worst', Uint8Array.of(0))]
    for (const update of updates) expect(update.byteLength).toBeLessThanOrEqual(chunkBytes)
    expect(updates[0].byteLength).toBeGreaterThan(maxValueBytes * 2)
  })

  it('refuses a chunk cap too small for the largest value a policy allows', async () => {
    const dir = await fixture.tempDir()
    await expect(fixture.open(dir, { chunkBytes: 64 * 1024 })).rejects.toThrow(/chunkBytes must be at least/)
  })
})
