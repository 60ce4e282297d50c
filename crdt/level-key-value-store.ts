import { Level } from 'level'
import type { KeyRange, KeyValueOperation, KeyValueStore } from './key-value-store.ts'

/** LevelDB behind the key-value seam: string keys, byte values, one directory. */
export class LevelKeyValueStore implements KeyValueStore {
  readonly #db: Level<string, Uint8Array>

  private constructor (db: Level<string, Uint8Array>) {
    this.#db = db
  }

  static async open (dir: string): Promise<LevelKeyValueStore> {
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    return new LevelKeyValueStore(db)
  }

  async * entries (range: KeyRange = {}): AsyncIterable<[string, Uint8Array]> {
    for await (const entry of this.#db.iterator(range)) yield entry
  }

  async batch (operations: KeyValueOperation[]): Promise<void> {
    await this.#db.batch(operations)
  }

  async close (): Promise<void> {
    await this.#db.close()
  }
}
