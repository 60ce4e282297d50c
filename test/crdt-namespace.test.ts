import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { DEFAULT_POLICY, InvalidEntryError, LOCAL_ORIGIN, NamespaceDoc, NamespaceLimitError } from '../crdt/index.ts'
import type { NamespacePolicy } from '../crdt/index.ts'

const author = '12D3KooWAuthor'

function makeDoc (policy: Partial<NamespacePolicy> = {}): NamespaceDoc {
  return new NamespaceDoc('test-ns', { ...DEFAULT_POLICY, ...policy })
}

/** Delivers every update of `from` that `to` lacks. */
function sync (from: NamespaceDoc, to: NamespaceDoc): void {
  to.applyUpdate(from.encodeStateAsUpdate(to.stateVector()), 'peer')
}

describe('NamespaceDoc', () => {
  it('puts, gets, lists by prefix in key order, and deletes', () => {
    const doc = makeDoc()
    doc.put('b/2', { n: 2 }, { author, now: 10, tags: ['x'] })
    doc.put('a/1', 'one', { author, now: 11 })
    doc.put('b/1', [1], { author, now: 12 })

    expect(doc.get('b/2', 20)).toEqual({ key: 'b/2', value: { n: 2 }, author, createdAt: 10, updatedAt: 10, tags: ['x'] })
    expect(doc.list({ now: 20 }).map(entry => entry.key)).toEqual(['a/1', 'b/1', 'b/2'])
    expect(doc.list({ prefix: 'b/', now: 20 }).map(entry => entry.key)).toEqual(['b/1', 'b/2'])

    expect(doc.delete('b/1')).toBe(true)
    expect(doc.delete('b/1')).toBe(false)
    expect(doc.get('b/1', 20)).toBeUndefined()
    expect(doc.stats()).toMatchObject({ entries: 2, lastUpdate: 12 })
  })

  it('keeps createdAt of a live entry across updates', () => {
    const doc = makeDoc()
    doc.put('k', 1, { author, now: 100 })
    const updated = doc.put('k', 2, { author: 'other', now: 200 })
    expect(updated).toMatchObject({ value: 2, author: 'other', createdAt: 100, updatedAt: 200 })
  })

  it('copies and freezes stored values so callers cannot edit replicated state', () => {
    const doc = makeDoc()
    const value = { list: [1] }
    doc.put('k', value, { author, now: 1 })
    value.list.push(2)
    const stored = doc.get('k', 1)
    expect(stored?.value).toEqual({ list: [1] })
    expect(Object.isFrozen(stored?.value)).toBe(true)
  })

  it('hides expired entries and sweeps them', () => {
    const doc = makeDoc({ defaultTtlMs: 1000 })
    doc.put('default-ttl', 1, { author, now: 0 })
    doc.put('short', 2, { author, now: 0, ttlMs: 10 })
    expect(doc.get('short', 9)?.value).toBe(2)
    expect(doc.get('short', 10)).toBeUndefined()
    expect(doc.list({ now: 10 }).map(entry => entry.key)).toEqual(['default-ttl'])
    expect(doc.stats().entries).toBe(2)

    expect(doc.sweep(10)).toBe(1)
    expect(doc.stats().entries).toBe(1)
    expect(doc.sweep(10)).toBe(0)
    expect(doc.get('default-ttl', 999)?.expiresAt).toBe(1000)
    expect(doc.sweep(1000)).toBe(1)
    expect(doc.stats()).toMatchObject({ entries: 0, bytes: 0 })
  })

  it('restarts createdAt when a key is rewritten after expiring', () => {
    const doc = makeDoc()
    doc.put('k', 1, { author, now: 0, ttlMs: 5 })
    expect(doc.put('k', 2, { author, now: 50 }).createdAt).toBe(50)
  })

  it('rejects invalid input before changing anything', () => {
    const doc = makeDoc()
    expect(() => doc.put('', 1, { author, now: 0 })).toThrow(InvalidEntryError)
    expect(() => doc.put('k', undefined as never, { author, now: 0 })).toThrow(InvalidEntryError)
    expect(() => doc.put('k', 1, { author: '', now: 0 })).toThrow(InvalidEntryError)
    expect(() => doc.put('k', 1, { author, now: -1 })).toThrow(InvalidEntryError)
    expect(() => doc.put('k', 1, { author, now: 0, ttlMs: 0 })).toThrow('ttlMs')
    expect(doc.stateVector()).toEqual(new NamespaceDoc('empty', DEFAULT_POLICY).stateVector())
  })

  it('refuses writes past each limit with an error naming namespace and limit, changing nothing', () => {
    const doc = makeDoc({ maxEntries: 2, maxBytes: 250, maxValueBytes: 50 })
    const updates: Uint8Array[] = []
    doc.onUpdate(update => updates.push(update))
    doc.put('a', 'x', { author, now: 1 })
    doc.put('b', 'y', { author, now: 1 })
    const before = { state: doc.stateVector(), stats: doc.stats(), list: doc.list({ now: 1 }) }

    const refused = (action: () => void, limit: string): void => {
      let error: unknown
      try {
        action()
      } catch (err) {
        error = err
      }
      expect(error).toBeInstanceOf(NamespaceLimitError)
      expect(error).toMatchObject({ namespace: 'test-ns', limit })
      expect((error as Error).message).toContain('test-ns')
      expect((error as Error).message).toContain(limit)
    }
    refused(() => doc.put('c', 'z', { author, now: 2 }), 'maxEntries')
    refused(() => doc.put('a', 'v'.repeat(60), { author, now: 2 }), 'maxValueBytes')
    refused(() => doc.put('a', 'v'.repeat(45), { author, now: 2, tags: Array.from({ length: 10 }, (_, i) => `tag-${i}`) }), 'maxBytes')

    expect(doc.stateVector()).toEqual(before.state)
    expect(doc.stats()).toEqual(before.stats)
    expect(doc.list({ now: 2 })).toEqual(before.list)
    expect(updates).toHaveLength(2)
    // Replacing an existing key does not count as a new entry.
    expect(() => doc.put('a', 'new', { author, now: 3 })).not.toThrow()
  })

  it('writes a batch as one update, or nothing when any entry is invalid or the batch passes a limit', () => {
    const doc = makeDoc({ maxEntries: 4, maxValueBytes: 50 })
    const updates: Uint8Array[] = []
    doc.onUpdate(update => updates.push(update))
    doc.put('a', 'old', { author, now: 1 })
    const written = doc.putMany([{ key: 'a', value: 'new' }, { key: 'b', value: 2, tags: ['t'] }, { key: 'c', value: [3], ttlMs: 10 }], { author, now: 5 })
    expect(written.map(entry => entry.key)).toEqual(['a', 'b', 'c'])
    expect(updates).toHaveLength(2)
    expect(doc.get('a', 6)).toMatchObject({ value: 'new', createdAt: 1, updatedAt: 5 })
    expect(doc.get('b', 6)).toMatchObject({ value: 2, tags: ['t'] })
    expect(doc.get('c', 6)).toMatchObject({ value: [3], expiresAt: 15 })
    const replica = makeDoc({ maxEntries: 4, maxValueBytes: 50 })
    for (const update of updates) replica.applyUpdate(update, 'peer')
    expect(replica.list({ now: 6 }).map(entry => entry.key)).toEqual(['a', 'b', 'c'])

    const before = { state: doc.stateVector(), list: doc.list({ now: 6 }) }
    expect(() => doc.putMany([{ key: 'd', value: 1 }, { key: 'e', value: 2 }], { author, now: 7 })).toThrow(/5 entries exceeds maxEntries \(4\)/)
    expect(() => doc.putMany([{ key: 'd', value: 1 }, { key: 'd', value: 2 }], { author, now: 7 })).toThrow(/"d" appears more than once/)
    expect(() => doc.putMany([{ key: 'd', value: 1 }, { key: 'e', value: 'v'.repeat(60) }], { author, now: 7 })).toThrow(NamespaceLimitError)
    expect(() => doc.putMany([{ key: 'd', value: 1 }, { key: '', value: 2 }], { author, now: 7 })).toThrow(InvalidEntryError)
    expect(doc.stateVector()).toEqual(before.state)
    expect(doc.list({ now: 7 })).toEqual(before.list)
    expect(updates).toHaveLength(2)
  })

  it('reports each local mutation as one Yjs update with the local origin', () => {
    const doc = makeDoc()
    const seen: Array<{ update: Uint8Array, origin: string }> = []
    doc.onUpdate((update, origin) => seen.push({ update, origin }))
    doc.put('k', 1, { author, now: 1 })
    doc.delete('k')
    expect(seen.map(change => change.origin)).toEqual([LOCAL_ORIGIN, LOCAL_ORIGIN])

    const replica = makeDoc()
    for (const { update } of seen) replica.applyUpdate(update, 'peer')
    expect(replica.stateVector()).toEqual(doc.stateVector())
    expect(replica.list({ now: 1 })).toEqual([])
  })

  it('converges when two replicas write the same key concurrently', () => {
    const left = makeDoc()
    const right = makeDoc()
    left.put('shared', 'from-left', { author: 'left', now: 5 })
    right.put('shared', 'from-right', { author: 'right', now: 5 })
    sync(left, right)
    sync(right, left)
    expect(left.get('shared', 5)).toEqual(right.get('shared', 5))
    expect(['from-left', 'from-right']).toContain(left.get('shared', 5)?.value)
    expect(left.stats()).toEqual(right.stats())
  })

  it('sweeps deterministically: concurrent sweeps agree and never erase a write they did not see', () => {
    const replicas = [makeDoc(), makeDoc(), makeDoc()]
    replicas[0].put('old', 1, { author, now: 0, ttlMs: 10 })
    replicas[0].put('kept', 2, { author, now: 0 })
    for (const replica of replicas.slice(1)) sync(replicas[0], replica)

    replicas[0].sweep(100)
    replicas[1].sweep(100)
    replicas[2].put('old', 'fresh', { author, now: 100 })

    for (const from of replicas) for (const to of replicas) if (from !== to) sync(from, to)
    const lists = replicas.map(replica => replica.list({ now: 0 }))
    expect(lists[1]).toEqual(lists[0])
    expect(lists[2]).toEqual(lists[0])
    expect(replicas[0].get('old', 100)?.value).toBe('fresh')
  })

  it('accounts for remote changes the same way as local ones', () => {
    const source = makeDoc()
    source.put('a', 'x', { author, now: 7 })
    source.put('b', 'y', { author, now: 8 })
    source.delete('a')
    const replica = makeDoc()
    replica.applyUpdate(Y.mergeUpdates([source.encodeStateAsUpdate()]), 'peer')
    expect(replica.stats()).toEqual(source.stats())
    expect(Object.isFrozen(replica.get('b', 8))).toBe(true)
    // Remote entries are sized when the total is needed, and replacing or deleting one first
    // (sized or not) keeps the total exact.
    const later = makeDoc()
    later.applyUpdate(source.encodeStateAsUpdate(), 'peer')
    source.put('b', { longer: 'é'.repeat(40) }, { author, now: 9 })
    source.put('c', [1, 2, 3], { author, now: 9 })
    later.applyUpdate(source.encodeStateAsUpdate(), 'peer')
    expect(later.stats().bytes).toBe(source.stats().bytes)
    source.delete('c')
    later.applyUpdate(source.encodeStateAsUpdate(), 'peer')
    const jsonBytes = source.list({ now: 9 }).reduce((sum, entry) => sum + Buffer.byteLength(JSON.stringify(entry)), 0)
    expect(later.stats().bytes).toBe(jsonBytes)
    expect(source.stats().bytes).toBe(jsonBytes)
  })
})
