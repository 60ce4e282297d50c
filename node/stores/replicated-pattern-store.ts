import type { MemoryStore } from '../../crdt/index.ts'
import { NAMESPACES } from '../../crdt/index.ts'
import type { Pattern, PatternStore } from '../../src/reasoningbank/index.ts'

/** Patterns live in this replicated namespace, one entry per pattern name, with no TTL. */
export const PATTERNS_NAMESPACE = NAMESPACES.patterns

function isPattern (value: unknown): value is Pattern {
  const candidate = value as Partial<Pattern> | null
  return candidate !== null && typeof candidate === 'object' && typeof candidate.name === 'string' &&
    typeof candidate.content === 'string' && typeof candidate.namespace === 'string' &&
    typeof candidate.confidence === 'number' && Array.isArray(candidate.embedding) && typeof candidate.embedder === 'string'
}

/**
 * The ReasoningBank's store on replicated memory. Memory reports changes per namespace, not per
 * key, so each change is diffed against the entries seen last to name the patterns that changed
 * or disappeared (local writes and peers' alike).
 */
export function patternStoreIn (memory: MemoryStore, self: string): PatternStore {
  const read = (): Map<string, Pattern> => {
    const patterns = new Map<string, Pattern>()
    for (const entry of memory.list(PATTERNS_NAMESPACE)) {
      if (isPattern(entry.value)) patterns.set(entry.key, entry.value)
    }
    return patterns
  }
  return {
    all: () => [...read().values()],
    get: (name) => {
      const value = memory.get(PATTERNS_NAMESPACE, name)?.value
      return isPattern(value) ? value : undefined
    },
    put: async (pattern) => {
      await memory.put(PATTERNS_NAMESPACE, pattern.name, structuredClone(pattern) as unknown as Parameters<MemoryStore['put']>[2], { author: self })
    },
    delete: async (name) => memory.delete(PATTERNS_NAMESPACE, name),
    onChange: (listener) => {
      // The store hands out its own entry objects and replaces one on every write, so an object
      // that differs is a change (two writes in one millisecond share an updatedAt).
      let seen = read()
      return memory.onUpdate((namespace) => {
        if (namespace !== PATTERNS_NAMESPACE) return
        const now = read()
        for (const [name, pattern] of now) {
          if (seen.get(name) !== pattern) listener(name, pattern)
        }
        for (const name of seen.keys()) if (!now.has(name)) listener(name, undefined)
        seen = now
      })
    }
  }
}
