import { describe, expect, it } from 'vitest'
import { assertJsonValue, assertKey, assertTags, deepFreeze, entryByteLength, frozenCopy, isEntry, jsonByteLength, newEntry, type JsonValue } from '../crdt/entry.ts'
import { InvalidEntryError, InvalidNamespaceError, PolicyTable, SEEDED_TTL_MS, assertNamespaceName } from '../crdt/index.ts'

const validEntry = {
  key: 'k',
  value: { nested: [1, 'two', null, true] },
  author: '12D3KooWPeer',
  createdAt: 1,
  updatedAt: 2,
  expiresAt: 3,
  tags: ['a']
}

describe('entry validation', () => {
  it('accepts keys of 1 to 256 characters only', () => {
    expect(() => assertKey('a')).not.toThrow()
    expect(() => assertKey('x'.repeat(256))).not.toThrow()
    expect(() => assertKey('')).toThrow(InvalidEntryError)
    expect(() => assertKey('x'.repeat(257))).toThrow(/longer than 256/)
    expect(() => assertKey(7)).toThrow(InvalidEntryError)
  })

  it('accepts JSON values and names the path of the first non-JSON part', () => {
    for (const value of [null, 0, -1.5, 'text', true, [], {}, { a: [{ b: null }] }]) {
      expect(() => assertJsonValue(value)).not.toThrow()
    }
    expect(() => assertJsonValue({ a: [1, undefined] })).toThrow('value.a[1] is not a JSON value')
    expect(() => assertJsonValue({ when: new Date() })).toThrow('value.when')
    expect(() => assertJsonValue(Number.NaN)).toThrow('finite')
    expect(() => assertJsonValue(() => 1)).toThrow(InvalidEntryError)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => assertJsonValue(cyclic)).toThrow('nested deeper')
  })

  it('bounds tags', () => {
    expect(() => assertTags(['a', 'b'])).not.toThrow()
    expect(() => assertTags([''])).toThrow(InvalidEntryError)
    expect(() => assertTags(['x'.repeat(65)])).toThrow(InvalidEntryError)
    expect(() => assertTags(Array.from({ length: 33 }, (_, i) => `t${i}`))).toThrow('more than 32 tags')
    expect(() => assertTags('a')).toThrow(InvalidEntryError)
  })

  it('recognises exactly the entry shape', () => {
    expect(isEntry(validEntry)).toBe(true)
    const { expiresAt: _expiresAt, ...withoutExpiry } = validEntry
    expect(isEntry(withoutExpiry)).toBe(true)
    expect(isEntry({ ...validEntry, extra: 1 })).toBe(false)
    expect(isEntry({ ...validEntry, createdAt: -1 })).toBe(false)
    expect(isEntry({ ...validEntry, author: '' })).toBe(false)
    const { value: _value, ...withoutValue } = validEntry
    expect(isEntry(withoutValue)).toBe(false)
    expect(isEntry('entry')).toBe(false)
  })

  it('freezes nested values', () => {
    const frozen = deepFreeze({ a: { b: [1] } })
    expect(Object.isFrozen(frozen.a.b)).toBe(true)
  })
})

describe('namespace policies', () => {
  it('seeds the swarm namespaces with their TTLs', () => {
    const table = new PolicyTable()
    expect(table.configuredNamespaces()).toEqual(['shared-knowledge', 'swarm-state', 'task-queue'])
    expect(table.policyFor('swarm-state').defaultTtlMs).toBe(3_600_000)
    expect(table.policyFor('task-queue').defaultTtlMs).toBe(7_200_000)
    expect(table.policyFor('shared-knowledge').defaultTtlMs).toBe(86_400_000)
    expect(Object.keys(SEEDED_TTL_MS).sort()).toEqual(table.configuredNamespaces())
  })

  it('builds seeded policies on an adjusted default', () => {
    const table = new PolicyTable({}, { maxValueBytes: 10 })
    expect(table.policyFor('brand-new').maxValueBytes).toBe(10)
    expect(table.policyFor('task-queue')).toMatchObject({ maxValueBytes: 10, defaultTtlMs: 7_200_000 })
  })

  it('gives unknown namespaces the default policy without TTL, and merges overrides', () => {
    const table = new PolicyTable({ notes: { maxEntries: 5 }, 'swarm-state': { defaultTtlMs: undefined } })
    expect(table.policyFor('anything-new').defaultTtlMs).toBeUndefined()
    expect(table.policyFor('notes').maxEntries).toBe(5)
    expect(table.policyFor('swarm-state').defaultTtlMs).toBeUndefined()
    expect(table.configuredNamespaces()).toContain('notes')
  })

  it('rejects invalid names and policies clearly', () => {
    for (const name of ['', 'Upper', '-lead', 'a/b', 'x'.repeat(65), 'spa ce']) {
      expect(() => assertNamespaceName(name)).toThrow(InvalidNamespaceError)
    }
    expect(() => assertNamespaceName('a.b_c-9')).not.toThrow()
    expect(() => new PolicyTable({ bad: { maxBytes: 0 } })).toThrow('policy maxBytes must be a positive integer')
    expect(() => new PolicyTable({ 'Bad!': {} })).toThrow(InvalidNamespaceError)
    expect(() => new PolicyTable({}, { maxEntries: 1.5 })).toThrow('(default)')
  })
})

describe('entry sizes', () => {
  it('accounts a new entry at exactly its JSON size, and copies its value deeply frozen', () => {
    const values: JsonValue[] = [null, 0, -1.5e300, '', 'quote " back\\ slash\n\u0001 é 漢字 🙂 \ud800', [1, [2, { a: '\t' }]], { 'ké"y': { deep: [true, false] } }]
    for (const value of values) {
      for (const expiresAt of [undefined, 99]) {
        const source = { nested: value, list: [value] }
        const copy = frozenCopy(source)
        for (const [key, tags] of [['k "1"', ['t']], ['plain-key', []], ['ключ', ['a', 'b\\', '']]] as const) {
          const entry = newEntry({ key, author: '12D3KooWPeer', createdAt: 1_700_000_000_000, updatedAt: 2, ...(expiresAt === undefined ? {} : { expiresAt }), tags }, copy, jsonByteLength(copy))
          expect(entryByteLength(entry)).toBe(Buffer.byteLength(JSON.stringify(entry)))
          expect(Object.keys(entry)).toEqual(['key', 'value', 'author', 'createdAt', 'updatedAt', ...(expiresAt === undefined ? [] : ['expiresAt']), 'tags'])
          expect(Object.isFrozen(entry) && Object.isFrozen(entry.tags)).toBe(true)
        }
        expect(copy).toEqual(source)
        expect(copy).not.toBe(source)
        expect(Object.isFrozen(copy) && Object.isFrozen((copy as { list: unknown[] }).list)).toBe(true)
      }
    }
  })
})
