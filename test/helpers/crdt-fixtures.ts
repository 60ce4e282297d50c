import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { LevelKeyValueStore, MemoryStore } from '../../crdt/index.ts'
import type { KeyValueOperation, KeyValueStore, MemoryStoreOptions } from '../../crdt/index.ts'

export interface StoreFixture {
  /** A fresh empty directory, removed after the test. */
  tempDir (): Promise<string>
  /** Opens a store (in a fresh directory unless given one); closed after the test if still open. */
  open (dir?: string, options?: MemoryStoreOptions): Promise<MemoryStore>
  /** Like `open` on a disk that records every batch written, and can be made to fail the next one. */
  openRecording (dir?: string, options?: MemoryStoreOptions): Promise<RecordingStore>
}

export interface RecordingStore {
  store: MemoryStore
  batches: KeyValueOperation[][]
  /** The next batch is refused with `err` (a full disk, say) and not written. */
  failNextBatch (err: Error): void
}

/** Passes everything through to `inner`, keeping a copy of each batch's operations. */
function recording (inner: KeyValueStore, batches: KeyValueOperation[][], nextFailure: { err?: Error }): KeyValueStore {
  return {
    entries: (range) => inner.entries(range),
    batch: async (operations) => {
      const err = nextFailure.err
      nextFailure.err = undefined
      if (err !== undefined) throw err
      batches.push([...operations])
      await inner.batch(operations)
    },
    close: async () => { await inner.close() }
  }
}

/** Call at file or describe level: registers the afterEach cleanup. */
export function useStoreFixture (): StoreFixture {
  const dirs: string[] = []
  const stores: MemoryStore[] = []
  afterEach(async () => {
    await Promise.all(stores.splice(0).map(store => store.close()))
    await Promise.all(dirs.splice(0).map(dir => rm(dir, { recursive: true, force: true })))
  })
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'peerflow-crdt-'))
    dirs.push(dir)
    return dir
  }
  return {
    tempDir,
    async open (dir, options) {
      const store = await MemoryStore.open(dir ?? await tempDir(), options)
      stores.push(store)
      return store
    },
    async openRecording (dir, options) {
      const batches: KeyValueOperation[][] = []
      const nextFailure: { err?: Error } = {}
      const store = await MemoryStore.openOn(recording(await LevelKeyValueStore.open(dir ?? await tempDir()), batches, nextFailure), options)
      stores.push(store)
      return { store, batches, failNextBatch: (err) => { nextFailure.err = err } }
    }
  }
}
