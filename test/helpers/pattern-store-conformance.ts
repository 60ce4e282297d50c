import { describe, expect, it } from 'vitest'
import type { Pattern, PatternStore } from '../../src/reasoningbank/index.ts'

export interface PatternStoreSubject {
  /** A fresh, empty store, and how to release it. */
  create (): Promise<{ store: PatternStore, close: () => Promise<void> }>
}

function pattern (name: string, overrides: Partial<Pattern> = {}): Pattern {
  return {
    name,
    content: `how to ${name}`,
    namespace: 'security',
    confidence: 0.5,
    uses: 0,
    successes: 0,
    failures: 0,
    createdAt: 1_000,
    lastUsedAt: 1_000,
    embedding: [0.6, 0.8],
    embedder: 'hash-2',
    metadata: { source: 'test' },
    ...overrides
  }
}

/** What the ReasoningBank relies on from any pattern store; call once per store. */
export function runPatternStoreTests (name: string, subject: PatternStoreSubject): void {
  describe(`pattern store conformance: ${name}`, () => {
    it('stores, lists, reads and replaces patterns by name', async () => {
      const { store, close } = await subject.create()
      expect(store.all()).toEqual([])
      await store.put(pattern('validate-input'))
      await store.put(pattern('escape-output'))
      await store.put(pattern('validate-input', { confidence: 0.9, uses: 3 }))
      expect(store.all().map((p) => p.name).sort()).toEqual(['escape-output', 'validate-input'])
      expect(store.get('validate-input')).toEqual(pattern('validate-input', { confidence: 0.9, uses: 3 }))
      expect(store.get('unknown')).toBeUndefined()
      await close()
    })

    it('keeps a copy: changing the object after put changes nothing stored', async () => {
      const { store, close } = await subject.create()
      const mine = pattern('copy-me')
      await store.put(mine)
      mine.confidence = 0.01
      mine.embedding[0] = 9
      expect(store.get('copy-me')?.confidence).toBe(0.5)
      expect(store.get('copy-me')?.embedding).toEqual([0.6, 0.8])
      await close()
    })

    it('deletes by name and says whether there was anything to delete', async () => {
      const { store, close } = await subject.create()
      await store.put(pattern('short-lived'))
      expect(await store.delete('short-lived')).toBe(true)
      expect(await store.delete('short-lived')).toBe(false)
      expect(store.get('short-lived')).toBeUndefined()
      expect(store.all()).toEqual([])
      await close()
    })

    it('tells listeners of every change by name, with the new pattern or undefined, until unsubscribed', async () => {
      const { store, close } = await subject.create()
      const seen: Array<[string, number | undefined]> = []
      const unsubscribe = store.onChange((changed, value) => { seen.push([changed, value?.confidence]) })
      await store.put(pattern('a', { confidence: 0.3 }))
      await store.put(pattern('a', { confidence: 0.4 }))
      await store.delete('a')
      unsubscribe()
      await store.put(pattern('b'))
      expect(seen).toEqual([['a', 0.3], ['a', 0.4], ['a', undefined]])
      await close()
    })
  })
}
