import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { DEFAULT_POLICY, LOCAL_ORIGIN, NamespaceDoc } from '../crdt/index.ts'
import type { Entry, MemoryStore } from '../crdt/index.ts'
import { splitUpdate } from '../crdt/update-chunks.ts'
import { useStoreFixture } from './helpers/crdt-fixtures.ts'

const ENTRY_COUNT = 100_000
const CHUNK_CAP = 256 * 1024
const fixture = useStoreFixture()

function entry (key: string, value: string, author: string): Entry {
  return { key, value, author, createdAt: 1, updatedAt: 1, tags: ['bulk'] }
}

/** 100k entries from one writer, then a second writer overwriting and deleting some: built directly in Yjs for speed. */
function bigNamespaceUpdate (): Uint8Array {
  const writer = new Y.Doc()
  const entries = writer.getMap<Entry>('entries')
  writer.transact(() => {
    for (let i = 0; i < ENTRY_COUNT; i++) entries.set(`item/${i}`, entry(`item/${i}`, `value number ${i}`, 'writer-1'))
  })
  const editor = new Y.Doc()
  Y.applyUpdate(editor, Y.encodeStateAsUpdate(writer))
  const edited = editor.getMap<Entry>('entries')
  editor.transact(() => {
    for (let i = 0; i < 1000; i++) edited.set(`item/${i}`, entry(`item/${i}`, 'edited', 'writer-2'))
    for (let i = 1000; i < 2000; i++) edited.delete(`item/${i}`)
  })
  return Y.encodeStateAsUpdate(editor)
}

async function applyAll (store: MemoryStore, updates: Uint8Array[]): Promise<void> {
  for (const update of updates) await store.applyRemote('big', update, 'peer')
}

function totalBytes (updates: Uint8Array[]): number {
  return updates.reduce((sum, update) => sum + update.byteLength, 0)
}

describe('missingUpdates on a 100k-entry namespace', () => {
  it('returns chunks within the cap that rebuild the namespace, and less for a replica that has half', async () => {
    const source = await fixture.open()
    await applyAll(source, splitUpdate(bigNamespaceUpdate(), CHUNK_CAP))
    expect(source.namespaces().find(info => info.name === 'big')?.entries).toBe(ENTRY_COUNT - 1000)

    const everything = [...source.missingUpdates('big', Uint8Array.of(0))]
    expect(everything.length).toBeGreaterThan(10)
    for (const update of everything) expect(update.byteLength).toBeLessThanOrEqual(CHUNK_CAP)

    // An empty replica (a bare doc: the store path is covered by the half-way replica below).
    const empty = new NamespaceDoc('big', DEFAULT_POLICY)
    for (const update of everything) empty.applyUpdate(update, 'peer')
    const expected = JSON.stringify(source.list('big', { now: 1 }))
    expect(JSON.stringify(empty.list({ now: 1 }))).toBe(expected)
    expect(empty.stateVector()).toEqual(source.stateVector('big'))
    expect(empty.get('item/5', 1)?.value).toBe('edited')
    expect(empty.get('item/1500', 1)).toBeUndefined()

    const halfway = await fixture.open()
    await applyAll(halfway, everything.slice(0, Math.floor(everything.length / 2)))
    const rest = [...source.missingUpdates('big', halfway.stateVector('big'))]
    for (const update of rest) expect(update.byteLength).toBeLessThanOrEqual(CHUNK_CAP)
    expect(totalBytes(rest)).toBeLessThan(totalBytes(everything) * 0.7)
    await applyAll(halfway, rest)
    expect(JSON.stringify(halfway.list('big', { now: 1 }))).toBe(expected)

    expect(totalBytes([...source.missingUpdates('big', source.stateVector('big'))])).toBeLessThan(CHUNK_CAP)
  })

  it('encodes each chunk when taken, correct while the source keeps changing between chunks', () => {
    const cap = 16 * 1024
    const source = new NamespaceDoc('big', DEFAULT_POLICY)
    source.batch(LOCAL_ORIGIN, () => {
      for (let i = 0; i < 5000; i++) source.put(`k${i}`, `value ${i} ${'x'.repeat(80)}`, { author: 'writer', now: 1 })
    })
    const atStart = Y.decodeStateVector(source.stateVector())
    const target = new NamespaceDoc('big', DEFAULT_POLICY)
    let taken = 0
    for (const update of source.missingUpdates(Uint8Array.of(0), cap)) {
      expect(update.byteLength).toBeLessThanOrEqual(cap)
      target.applyUpdate(update, 'peer')
      // Writes between chunks split and merge the structs still to be encoded.
      source.put(`k${(taken * 7) % 5000}`, 'changed', { author: 'writer', now: 2 })
      source.delete(`k${(taken * 13 + 1) % 5000}`)
      taken++
    }
    expect(taken).toBeGreaterThan(20)
    const reached = Y.decodeStateVector(target.stateVector())
    for (const [client, clock] of atStart) expect(reached.get(client) ?? 0).toBeGreaterThanOrEqual(clock)
    for (const update of source.missingUpdates(target.stateVector(), cap)) target.applyUpdate(update, 'peer')
    expect(JSON.stringify(target.list({ now: 2 }))).toBe(JSON.stringify(source.list({ now: 2 })))
  })
})
