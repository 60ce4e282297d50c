import type { MemoryStore } from '../../crdt/index.ts'
import { NAMESPACES } from '../../crdt/index.ts'

/** The optional PeerId allowlist lives in this replicated namespace: one entry per allowed PeerId. */
export const MEMBERSHIP_NAMESPACE = NAMESPACES.membership

/** The allowlist as admission reads it: undefined while empty (any PeerId with the secret may join). */
export function allowlistIn (memory: MemoryStore, self: string): () => Set<string> | undefined {
  return () => {
    const allowed = memory.list(MEMBERSHIP_NAMESPACE).map((entry) => entry.key)
    return allowed.length === 0 ? undefined : new Set([...allowed, self])
  }
}
