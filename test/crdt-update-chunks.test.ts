import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { splitUpdate } from '../crdt/update-chunks.ts'
import { createPrng } from './helpers/prng.ts'

/** A doc written by several clients, with overwrites and deletions, so every struct kind appears. */
function busyDoc (seed: number, writes: number): Y.Doc {
  const prng = createPrng(seed)
  const writers = Array.from({ length: 3 }, () => new Y.Doc())
  for (let i = 0; i < writes; i++) {
    const writer = prng.pick(writers)
    const map = writer.getMap('entries')
    const key = `key-${prng.int(writes / 4)}`
    if (prng.next() < 0.2) map.delete(key)
    else map.set(key, { key, value: 'v'.repeat(prng.int(200)), n: i })
    if (prng.next() < 0.1) {
      const other = prng.pick(writers)
      Y.applyUpdate(other, Y.encodeStateAsUpdate(writer, Y.encodeStateVector(other)))
    }
  }
  const merged = new Y.Doc()
  for (const writer of writers) Y.applyUpdate(merged, Y.encodeStateAsUpdate(writer))
  return merged
}

function applyAll (updates: Uint8Array[]): Y.Doc {
  const doc = new Y.Doc()
  for (const update of updates) Y.applyUpdate(doc, update)
  return doc
}

describe('splitUpdate', () => {
  it('cuts a large update into chunks within the cap that rebuild the same document', () => {
    const source = busyDoc(1, 4000)
    const full = Y.encodeStateAsUpdate(source)
    const chunks = splitUpdate(full, 4096)
    expect(chunks.length).toBeGreaterThan(full.byteLength / 4096)
    for (const chunk of chunks) expect(chunk.byteLength).toBeLessThanOrEqual(4096)
    const rebuilt = applyAll(chunks)
    expect(Y.equalSnapshots(Y.snapshot(rebuilt), Y.snapshot(source))).toBe(true)
    expect(rebuilt.getMap('entries').toJSON()).toEqual(source.getMap('entries').toJSON())
  })

  it('finds struct boundaries and clocks for every kind of Yjs content', () => {
    const source = new Y.Doc()
    const values = source.getArray<unknown>('values')
    values.push([[undefined], null, true, false, 7, -300000, 1.5, 2 ** 40 + 0.25, 'text', { nested: [1, { deep: 'é', big: 10n }] }, new Uint8Array([1, 2, 3])])
    const text = source.getText('text')
    text.insert(0, 'plain ascii, then 😀 and ünïcode')
    text.format(0, 5, { bold: true })
    text.insertEmbed(3, { image: 'cat.png' })
    values.push([new Y.Map(), new Y.Array()])
    const fragment = source.getXmlFragment('xml')
    const element = new Y.XmlElement('section')
    fragment.push([element, new Y.XmlText('inside')])
    values.push([new Y.XmlHook('hook')])
    element.setAttribute('id', 'a')
    values.push([new Y.Doc({ guid: 'sub-document' })])
    text.delete(2, 4)
    values.delete(1, 2)
    const full = Y.encodeStateAsUpdate(source)

    // A tiny cap spreads the structs over many chunks, so each chunk's first clock must be right.
    const chunks = splitUpdate(full, 128)
    expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil(full.byteLength / 128))
    const rebuilt = applyAll(chunks)
    expect(Y.equalSnapshots(Y.snapshot(rebuilt), Y.snapshot(source))).toBe(true)
    expect(Y.encodeStateVector(rebuilt)).toEqual(Y.encodeStateVector(source))
    expect(rebuilt.getText('text').toDelta()).toEqual(text.toDelta())
    const plainValues = (doc: Y.Doc): unknown[] => doc.getArray('values').toArray().filter(value => !(value instanceof Y.AbstractType) && !(value instanceof Y.Doc))
    expect(plainValues(rebuilt)).toEqual(plainValues(source))
    expect(plainValues(rebuilt)).toHaveLength(9)
    expect(rebuilt.getXmlFragment('xml').toString()).toEqual(fragment.toString())
  })

  it('refuses a truncated update', () => {
    const full = Y.encodeStateAsUpdate(busyDoc(3, 200))
    expect(() => splitUpdate(full.subarray(0, full.byteLength - 7), 1024)).toThrow(RangeError)
  })

  it('works for any delivery order of the chunks', () => {
    const source = busyDoc(2, 1000)
    const chunks = splitUpdate(Y.encodeStateAsUpdate(source), 2048).reverse()
    expect(Y.equalSnapshots(Y.snapshot(applyAll(chunks)), Y.snapshot(source))).toBe(true)
  })

  it('splits a delete set larger than the cap', () => {
    const source = new Y.Doc()
    const map = source.getMap('entries')
    source.transact(() => { for (let i = 0; i < 3000; i++) map.set(`k${i}`, i) })
    const replica = new Y.Doc()
    Y.applyUpdate(replica, Y.encodeStateAsUpdate(source))
    // Deleting every other key leaves thousands of separate deletion ranges and no new structs.
    source.transact(() => { for (let i = 0; i < 3000; i += 2) map.delete(`k${i}`) })
    const deletions = Y.encodeStateAsUpdate(source, Y.encodeStateVector(replica))
    expect(deletions.byteLength).toBeGreaterThan(1024)

    const chunks = splitUpdate(deletions, 1024)
    for (const chunk of chunks) expect(chunk.byteLength).toBeLessThanOrEqual(1024)
    for (const chunk of chunks) Y.applyUpdate(replica, chunk)
    expect(Y.equalSnapshots(Y.snapshot(replica), Y.snapshot(source))).toBe(true)
  })

  it('returns small updates unchanged and nothing for an empty one', () => {
    const doc = new Y.Doc()
    expect(splitUpdate(Y.encodeStateAsUpdate(doc), 100)).toEqual([])
    doc.getMap('entries').set('k', 1)
    const update = Y.encodeStateAsUpdate(doc)
    expect(splitUpdate(update, 100)).toEqual([update])
  })

  it('refuses a struct that cannot fit the cap', () => {
    const doc = new Y.Doc()
    doc.getMap('entries').set('a', 'x'.repeat(500))
    doc.getMap('entries').set('b', 'y'.repeat(500))
    expect(() => splitUpdate(Y.encodeStateAsUpdate(doc), 300)).toThrow(RangeError)
  })
})
