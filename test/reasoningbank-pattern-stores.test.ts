import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InMemoryKeyValueStore, LevelKeyValueStore, MemoryStore } from '../crdt/index.ts'
import { patternStoreIn } from '../node/stores/replicated-pattern-store.ts'
import { InMemoryPatternStore } from '../src/reasoningbank/in-memory-pattern-store.ts'
import { runPatternStoreTests } from './helpers/pattern-store-conformance.ts'

const SELF = '12D3KooWPatternStoreConformance'

runPatternStoreTests('in memory', {
  create: async () => ({ store: new InMemoryPatternStore(), close: async () => {} })
})

runPatternStoreTests('replicated memory on LevelDB', {
  create: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peerflow-patterns-'))
    const memory = await MemoryStore.openOn(await LevelKeyValueStore.open(dir))
    return {
      store: patternStoreIn(memory, SELF),
      close: async () => {
        await memory.close()
        await rm(dir, { recursive: true, force: true })
      }
    }
  }
})

runPatternStoreTests('replicated memory in memory', {
  create: async () => {
    const memory = await MemoryStore.openOn(new InMemoryKeyValueStore())
    return { store: patternStoreIn(memory, SELF), close: async () => { await memory.close() } }
  }
})
