import { describe, expect, it } from 'vitest'
import type { KeyValueOperation, KeyValueStore } from '../../crdt/index.ts'

export interface KeyValueStoreSubject {
  /** A fresh, empty, open store. */
  create (): Promise<KeyValueStore>
  /** Closes `store` and opens what it left behind, for adapters that persist. */
  reopen?: (store: KeyValueStore) => Promise<KeyValueStore>
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (value: Uint8Array): string => new TextDecoder().decode(value)

async function collect (store: KeyValueStore, range?: { gte?: string, lt?: string }): Promise<Array<[string, string]>> {
  const found: Array<[string, string]> = []
  for await (const [key, value] of store.entries(range)) found.push([key, text(value)])
  return found
}

/** What every key-value adapter under replicated memory must do; call once per adapter. */
export function runKeyValueStoreTests (name: string, subject: KeyValueStoreSubject): void {
  describe(`key-value store conformance: ${name}`, () => {
    it('starts empty and lists entries in ascending key order', async () => {
      const store = await subject.create()
      expect(await collect(store)).toEqual([])
      await store.batch([{ type: 'put', key: 'b', value: bytes('2') }, { type: 'put', key: 'a', value: bytes('1') }, { type: 'put', key: 'c', value: bytes('3') }])
      expect(await collect(store)).toEqual([['a', '1'], ['b', '2'], ['c', '3']])
      await store.close()
    })

    it('honours range bounds: gte inclusive, lt exclusive', async () => {
      const store = await subject.create()
      await store.batch(['ns/a', 'ns/b', 'ns0', 'nr/z', 'ns/'].map((key) => ({ type: 'put', key, value: bytes(key) })))
      expect((await collect(store, { gte: 'ns/', lt: 'ns0' })).map(([key]) => key)).toEqual(['ns/', 'ns/a', 'ns/b'])
      expect((await collect(store, { gte: 'ns/a' })).map(([key]) => key)).toEqual(['ns/a', 'ns/b', 'ns0'])
      expect((await collect(store, { lt: 'ns/' })).map(([key]) => key)).toEqual(['nr/z'])
      await store.close()
    })

    it('applies puts and deletes of one batch in order, overwriting earlier values', async () => {
      const store = await subject.create()
      await store.batch([{ type: 'put', key: 'k', value: bytes('old') }, { type: 'put', key: 'gone', value: bytes('x') }])
      await store.batch([{ type: 'put', key: 'k', value: bytes('new') }, { type: 'del', key: 'gone' }, { type: 'del', key: 'never-there' }])
      expect(await collect(store)).toEqual([['k', 'new']])
      await store.close()
    })

    it('writes a batch with an invalid operation not at all', async () => {
      const store = await subject.create()
      await store.batch([{ type: 'put', key: 'kept', value: bytes('1') }])
      const invalid = [
        { type: 'put', key: 'first', value: bytes('x') },
        { type: 'put', key: 'broken', value: undefined }
      ] as unknown as KeyValueOperation[]
      await expect(store.batch(invalid)).rejects.toThrow()
      expect(await collect(store)).toEqual([['kept', '1']])
      await store.close()
    })

    it('keeps what it was given, not a view of the caller\'s buffer', async () => {
      const store = await subject.create()
      const value = bytes('abc')
      await store.batch([{ type: 'put', key: 'k', value }])
      value[0] = 0x7a
      expect(await collect(store)).toEqual([['k', 'abc']])
      await store.close()
    })

    it('iterates a snapshot: writes made during iteration do not show up in it', async () => {
      const store = await subject.create()
      await store.batch([{ type: 'put', key: 'a', value: bytes('1') }, { type: 'put', key: 'b', value: bytes('2') }])
      const seen: string[] = []
      for await (const [key] of store.entries()) {
        seen.push(key)
        if (key === 'a') await store.batch([{ type: 'put', key: 'aa', value: bytes('late') }, { type: 'del', key: 'b' }])
      }
      expect(seen).toEqual(['a', 'b'])
      expect((await collect(store)).map(([key]) => key)).toEqual(['a', 'aa'])
      await store.close()
    })

    it('refuses work once closed', async () => {
      const store = await subject.create()
      await store.close()
      await expect(store.batch([{ type: 'put', key: 'k', value: bytes('v') }])).rejects.toThrow()
      await expect(collect(store)).rejects.toThrow()
    })

    if (subject.reopen !== undefined) {
      const reopen = subject.reopen
      it('holds every acknowledged batch across close and reopen', async () => {
        const store = await subject.create()
        await store.batch([{ type: 'put', key: 'x', value: bytes('1') }, { type: 'put', key: 'y', value: bytes('2') }])
        await store.batch([{ type: 'del', key: 'x' }])
        const reopened = await reopen(store)
        expect(await collect(reopened)).toEqual([['y', '2']])
        await reopened.close()
      })
    }
  })
}
