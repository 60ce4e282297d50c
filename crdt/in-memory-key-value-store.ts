import { StoreUnavailableError } from './errors.ts'
import type { KeyRange, KeyValueOperation, KeyValueStore } from './key-value-store.ts'

/** A key-value store in a sorted map: for tests and simulations that need no disk. */
export class InMemoryKeyValueStore implements KeyValueStore {
  readonly #entries = new Map<string, Uint8Array>()
  #closed = false

  async * entries (range: KeyRange = {}): AsyncIterable<[string, Uint8Array]> {
    this.#assertOpen()
    // A snapshot of the matching keys: writes during iteration do not disturb it, as with LevelDB.
    const keys = [...this.#entries.keys()]
      .filter((key) => (range.gte === undefined || key >= range.gte) && (range.lt === undefined || key < range.lt))
      .sort()
    const values = keys.map((key) => this.#entries.get(key) as Uint8Array)
    for (let i = 0; i < keys.length; i++) yield [keys[i] as string, (values[i] as Uint8Array).slice()]
  }

  async batch (operations: KeyValueOperation[]): Promise<void> {
    this.#assertOpen()
    for (const operation of operations) {
      if (typeof operation.key !== 'string') throw new TypeError('a key must be a string')
      if (operation.type === 'put' && !(operation.value instanceof Uint8Array)) throw new TypeError(`the value of '${operation.key}' must be bytes`)
    }
    for (const operation of operations) {
      if (operation.type === 'put') this.#entries.set(operation.key, operation.value.slice())
      else this.#entries.delete(operation.key)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
  }

  #assertOpen (): void {
    if (this.#closed) throw new StoreUnavailableError('the key-value store is closed')
  }
}
