import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { InMemoryKeyValueStore, LevelKeyValueStore, type KeyValueStore } from '../crdt/index.ts'
import { runKeyValueStoreTests } from './helpers/key-value-store-conformance.ts'

const dirs: string[] = []
const dirOf = new WeakMap<KeyValueStore, string>()
afterAll(async () => {
  await Promise.all(dirs.map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
})

runKeyValueStoreTests('LevelDB', {
  create: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peerflow-kv-'))
    dirs.push(dir)
    const store = await LevelKeyValueStore.open(dir)
    dirOf.set(store, dir)
    return store
  },
  reopen: async (store) => {
    await store.close()
    const dir = dirOf.get(store) as string
    const reopened = await LevelKeyValueStore.open(dir)
    dirOf.set(reopened, dir)
    return reopened
  }
})

runKeyValueStoreTests('in memory', { create: async () => new InMemoryKeyValueStore() })
