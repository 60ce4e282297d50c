import type { Pattern } from './pattern.ts'

/**
 * Where patterns live. The production implementation is replicated memory; the bank only needs this.
 * Returned patterns are the store's own objects: treat them as read-only and `put` a copy to change one.
 */
export interface PatternStore {
  all(): Pattern[]
  get(name: string): Pattern | undefined
  put(pattern: Pattern): Promise<void>
  delete(name: string): Promise<boolean>
  /**
   * Calls `listener` after every change, local or from a peer, with the new pattern or `undefined` when
   * it was deleted. Returns the unsubscribe function.
   */
  onChange(listener: (name: string, pattern: Pattern | undefined) => void): () => void
}
