import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { isEntry, MAX_KEY_LENGTH } from '../crdt/entry.ts'
import { InvalidUpdateError } from '../crdt/errors.ts'
import { ENTRIES_MAP, NamespaceDoc } from '../crdt/namespace.ts'
import { DEFAULT_POLICY } from '../crdt/policy.ts'
import { assertValidRemoteUpdate } from '../crdt/remote-update.ts'
import { createPrng, type Prng } from './helpers/prng.ts'

const CAP = 256 * 1024

/** The model check as a full Yjs decode sees it: the rule the byte walk must never be looser than. */
function acceptedByDecoding (update: Uint8Array): boolean {
  let structs
  try {
    structs = Y.decodeUpdate(update).structs
  } catch {
    return false
  }
  return structs.every((struct) => {
    if (!(struct instanceof Y.Item)) return true
    const parent: unknown = struct.parent
    const key = struct.parentSub
    if (parent !== null && (parent !== ENTRIES_MAP || key === null || key.length === 0 || key.length > MAX_KEY_LENGTH)) return false
    const content = struct.content
    if (content instanceof Y.ContentDeleted) return true
    if (!(content instanceof Y.ContentAny) || content.arr.length !== 1 || !isEntry(content.arr[0])) return false
    return key === null || (content.arr[0] as { key: string }).key === key
  })
}

function acceptedByWalk (update: Uint8Array): boolean {
  try {
    assertValidRemoteUpdate(update, CAP)
    return true
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidUpdateError)
    return false
  }
}

/** Updates as replicas produce them: several writers, overwrites, deletions, expiries, odd values. */
function realUpdates (prng: Prng, count: number): Uint8Array[] {
  const writers = Array.from({ length: 3 }, () => new NamespaceDoc('notes', DEFAULT_POLICY))
  const updates: Uint8Array[] = []
  for (const writer of writers) writer.onUpdate((update) => updates.push(update))
  const values = [null, true, 0, -7, 0.5, 1e300, 'text', 'ünïcødé €', [1, [2, { a: 'b' }]], { nested: { deep: [null, false] } }]
  for (let i = 0; i < count; i++) {
    const writer = prng.pick(writers)
    const key = `key-${prng.int(20)}`
    if (prng.next() < 0.15) writer.delete(key)
    else writer.put(key, prng.pick(values), { author: `peer-${prng.int(3)}`, now: 1_700_000_000_000 + i, ttlMs: prng.next() < 0.3 ? 5_000 : undefined, tags: prng.next() < 0.5 ? ['a', 'tag'] : [] })
    if (prng.next() < 0.2) {
      const other = prng.pick(writers)
      other.applyUpdate(writer.encodeStateAsUpdate(other.stateVector()), 'sync')
    }
  }
  updates.push(writers[0].encodeStateAsUpdate())
  return updates
}

function mutate (prng: Prng, update: Uint8Array): Uint8Array {
  const bytes = Uint8Array.from(update)
  const roll = prng.next()
  if (roll < 0.5) {
    for (let i = 1 + prng.int(3); i > 0; i--) bytes[prng.int(bytes.length)] = prng.int(256)
    return bytes
  }
  if (roll < 0.7) return bytes.subarray(0, prng.int(bytes.length))
  const at = prng.int(bytes.length)
  return Uint8Array.from([...bytes.subarray(0, at), prng.int(256), ...bytes.subarray(at)])
}

describe('remote update validation without a full decode', () => {
  it('accepts every update replicas produce', () => {
    const updates = realUpdates(createPrng(7), 400)
    for (const update of updates) expect(acceptedByWalk(update)).toBe(true)
  })

  it('never accepts what a full decode refuses, on thousands of corrupted updates', () => {
    const prng = createPrng(11)
    const updates = realUpdates(prng, 200)
    let refused = 0
    for (let i = 0; i < 20_000; i++) {
      const corrupted = mutate(prng, prng.pick(updates))
      if (!acceptedByWalk(corrupted)) {
        refused++
        continue
      }
      expect(acceptedByDecoding(corrupted)).toBe(true)
    }
    expect(refused).toBeGreaterThan(1000)
  })

  it('refuses values outside the entry model with a reason', () => {
    const entry = { key: 'k', value: 1, author: 'peer', createdAt: 1, updatedAt: 1, tags: [] }
    const write = (value: unknown, key = 'k'): Uint8Array => {
      const doc = new Y.Doc()
      doc.getMap(ENTRIES_MAP).set(key, value)
      return Y.encodeStateAsUpdate(doc)
    }
    let deep: unknown = 1
    for (let i = 0; i < 70; i++) deep = [deep]
    const refused: Array<[Uint8Array, RegExp]> = [
      [write({ ...entry, value: undefined }), /not an entry/],
      [write({ ...entry, value: new Uint8Array(2) }), /not an entry/],
      [write({ ...entry, value: deep }), /nested deeper/],
      [write({ ...entry, createdAt: -1 }), /createdAt/],
      [write({ ...entry, createdAt: 1.5 }), /createdAt/],
      [write({ ...entry, tags: ['x'.repeat(65)] }), /tag/],
      [write({ ...entry, author: '' }), /author/],
      [write({ ...entry, extra: 1 }), /not an entry/],
      [write(entry, 'other'), /another key/],
      [write({ ...entry, key: 'x'.repeat(MAX_KEY_LENGTH + 1) }, 'x'.repeat(MAX_KEY_LENGTH + 1)), /invalid key/],
      [Uint8Array.from([...write(entry), 0]), /trailing/]
    ]
    for (const [update, reason] of refused) {
      expect(acceptedByDecoding(update) && !reason.test('trailing')).toBe(false)
      expect(() => { assertValidRemoteUpdate(update, CAP) }).toThrow(reason)
    }
  })
})
