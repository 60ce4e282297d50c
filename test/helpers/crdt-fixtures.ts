import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { MemoryStore } from '../../crdt/index.ts'
import type { MemoryStoreOptions } from '../../crdt/index.ts'

export interface StoreFixture {
  /** A fresh empty directory, removed after the test. */
  tempDir (): Promise<string>
  /** Opens a store (in a fresh directory unless given one); closed after the test if still open. */
  open (dir?: string, options?: MemoryStoreOptions): Promise<MemoryStore>
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
    }
  }
}
