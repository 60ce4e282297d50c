import { describe, expect, it } from 'vitest'
import { createEmbedder } from '../src/reasoningbank/create-embedder.ts'
import { HashEmbedder } from '../src/reasoningbank/hash-embedder.ts'
import { UseEmbedder } from '../src/reasoningbank/use-embedder.ts'
import { cosine, dot } from '../src/reasoningbank/vector-math.ts'

describe('HashEmbedder', () => {
  const embedder = new HashEmbedder()

  it('is a lexical 384-d embedder with unit vectors, also for text without words', async () => {
    expect(embedder).toMatchObject({ id: 'hash-384', dimensions: 384, semantic: false })
    for (const vector of await embedder.embed(['Retry with backoff', '!!!', ''])) {
      expect(vector).toHaveLength(384)
      expect(dot(vector, vector)).toBeCloseTo(1, 5)
    }
  })

  it('is deterministic and scores shared words above unrelated text', async () => {
    const [a, again, sharing, unrelated] = await embedder.embed(['retry failed network calls', 'retry failed network calls', 'network calls that failed need a retry', 'paint the fence green'])
    expect(Array.from(again)).toEqual(Array.from(a))
    expect(cosine(a, sharing)).toBeGreaterThan(cosine(a, unrelated) + 0.3)
  })

  it('names a non-default feature set differently and validates options', () => {
    expect(new HashEmbedder({ dimensions: 64, charNgram: 0 }).id).toBe('hash-64-c0')
    expect(() => new HashEmbedder({ dimensions: 0 })).toThrow(/dimensions/)
  })
})

describe('createEmbedder', () => {
  it('makes either kind without loading a model', () => {
    expect(createEmbedder('hash')).toBeInstanceOf(HashEmbedder)
    expect(createEmbedder('use')).toMatchObject({ id: 'use-lite-512', dimensions: 512, semantic: true })
    expect(() => createEmbedder('bert' as 'use')).toThrow("unknown embedder 'bert', expected one of: use, hash")
  })
})

