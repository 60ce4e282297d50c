import type { Pattern } from './pattern.ts'
import type { PatternStore } from './pattern-store.ts'

type ChangeListener = (name: string, pattern: Pattern | undefined) => void

/** A PatternStore in a Map, for tests and single-process use. Stores copies, as replication would. */
export class InMemoryPatternStore implements PatternStore {
  readonly #patterns = new Map<string, Pattern>()
  readonly #listeners = new Set<ChangeListener>()

  all (): Pattern[] {
    return [...this.#patterns.values()]
  }

  get (name: string): Pattern | undefined {
    return this.#patterns.get(name)
  }

  async put (pattern: Pattern): Promise<void> {
    const copy = structuredClone(pattern)
    this.#patterns.set(copy.name, copy)
    this.#emit(copy.name, copy)
  }

  async delete (name: string): Promise<boolean> {
    if (!this.#patterns.delete(name)) return false
    this.#emit(name, undefined)
    return true
  }

  onChange (listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  #emit (name: string, pattern: Pattern | undefined): void {
    for (const listener of this.#listeners) listener(name, pattern)
  }
}
