/**
 * The storage seam under replicated memory: an ordered byte store with range reads and atomic
 * batches. LevelDB serves it in production (level-key-value-store.ts); an in-memory map serves
 * tests and simulations. Both pass the same conformance suite (test/helpers/key-value-store-conformance.ts).
 */
export type KeyValueOperation =
  | { type: 'put', key: string, value: Uint8Array }
  | { type: 'del', key: string }

/** Keys k with gte <= k < lt (either bound may be absent), compared as strings. */
export interface KeyRange {
  gte?: string
  lt?: string
}

export interface KeyValueStore {
  /** Entries in ascending key order. */
  entries (range?: KeyRange): AsyncIterable<[string, Uint8Array]>
  /** All operations or none: a failed batch leaves the store as it was. */
  batch (operations: KeyValueOperation[]): Promise<void>
  close (): Promise<void>
}
