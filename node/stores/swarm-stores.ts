import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { MemoryStore } from '../../crdt/index.ts'
import { NAMESPACES } from '../../crdt/index.ts'
import { INITIAL_STATE, validatePersistentState, type PersistentState } from '../../protocols/raft/state.ts'
import { SwarmDefinition } from '../../protocols/swarm.ts'
import type { ElectionStateStore, SwarmDefinitionStore } from '../../src/swarm/ports.ts'

/** Swarm definitions live in this replicated namespace (no TTL: a swarm outlives its members' restarts). */
export const SWARMS_NAMESPACE = NAMESPACES.swarms

export function swarmDefinitionsIn (memory: MemoryStore, self: string): SwarmDefinitionStore {
  const parse = (value: unknown): SwarmDefinition | undefined => {
    const result = SwarmDefinition.safeParse(value)
    return result.success ? result.data : undefined
  }
  return {
    get: (name) => parse(memory.get(SWARMS_NAMESPACE, name)?.value),
    list: () => memory.list(SWARMS_NAMESPACE).flatMap((entry) => {
      const definition = parse(entry.value)
      return definition === undefined ? [] : [definition]
    }),
    put: async (definition) => {
      await memory.put(SWARMS_NAMESPACE, definition.name, definition, { author: self })
    },
    onChange: (listener) => memory.onUpdate((namespace) => { if (namespace === SWARMS_NAMESPACE) listener() })
  }
}

/**
 * Term and vote per swarm, one small file each, fsynced and renamed into place before the
 * election may send what depends on them: a restarted node must never vote twice in a term.
 */
export function electionStateFiles (dataDir: string): ElectionStateStore {
  const dir = join(dataDir, 'elections')
  return {
    load: async (swarm) => {
      try {
        const parsed = JSON.parse(await readFile(join(dir, `${swarm}.json`), 'utf8')) as PersistentState
        return validatePersistentState(parsed)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return INITIAL_STATE
        throw new Error(`election state of swarm '${swarm}' is unreadable (${(err as Error).message}): refusing to guess a term`)
      }
    },
    save: async (swarm, state) => {
      await mkdir(dir, { recursive: true })
      const path = join(dir, `${swarm}.json`)
      const tmp = `${path}.tmp`
      const file = await open(tmp, 'w', 0o600)
      try {
        await file.writeFile(JSON.stringify(state))
        await file.sync()
      } finally {
        await file.close()
      }
      await rename(tmp, path)
    }
  }
}
