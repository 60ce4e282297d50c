import type { Embedder } from './embedder.ts'
import { normalizeInPlace } from './vector-math.ts'

export interface HashEmbedderOptions {
  /** Vector length; default 384. */
  dimensions?: number
  /** Length of the in-word character n-grams to add (catches shared stems); 0 turns them off. Default 3. */
  charNgram?: number
}

const DEFAULT_DIMENSIONS = 384
const DEFAULT_CHAR_NGRAM = 3
// Word features carry most of the signal; the many character n-grams only nudge.
const UNIGRAM_WEIGHT = 1
const BIGRAM_WEIGHT = 0.5
const CHAR_NGRAM_WEIGHT = 0.25

/**
 * Lexical embedder by feature hashing: lower-cased word unigrams, word bigrams and character n-grams are
 * hashed into a fixed-size vector with a hash-derived sign (so collisions cancel out on average).
 * Texts sharing words get similar vectors; synonyms and paraphrases do NOT — this is not semantic.
 * Fast, deterministic and dependency-free, for tests, benchmarks and machines without the USE model.
 */
export class HashEmbedder implements Embedder {
  readonly id: string
  readonly dimensions: number
  readonly semantic = false
  readonly #charNgram: number

  constructor (options: HashEmbedderOptions = {}) {
    this.dimensions = options.dimensions ?? DEFAULT_DIMENSIONS
    this.#charNgram = options.charNgram ?? DEFAULT_CHAR_NGRAM
    if (!Number.isInteger(this.dimensions) || this.dimensions < 1) throw new RangeError(`dimensions must be a positive integer, got ${this.dimensions}`)
    if (!Number.isInteger(this.#charNgram) || this.#charNgram < 0) throw new RangeError(`charNgram must be a non-negative integer, got ${this.#charNgram}`)
    // The feature set is part of the vector space, so a non-default one gets its own id.
    this.id = this.#charNgram === DEFAULT_CHAR_NGRAM ? `hash-${this.dimensions}` : `hash-${this.dimensions}-c${this.#charNgram}`
  }

  async embed (texts: string[]): Promise<Float32Array[]> {
    return texts.map((text) => this.embedOne(text))
  }

  embedOne (text: string): Float32Array {
    const vector = new Float32Array(this.dimensions)
    const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
    // Text without any word still gets a non-zero, unit-length vector.
    if (words.length === 0) this.#add(vector, `raw:${text}`, UNIGRAM_WEIGHT)
    for (let i = 0; i < words.length; i++) {
      const word = words[i] as string
      this.#add(vector, `w:${word}`, UNIGRAM_WEIGHT)
      if (i > 0) this.#add(vector, `b:${words[i - 1]} ${word}`, BIGRAM_WEIGHT)
      if (this.#charNgram > 0) {
        const padded = `<${word}>`
        for (let start = 0; start + this.#charNgram <= padded.length; start++) {
          this.#add(vector, `c:${padded.slice(start, start + this.#charNgram)}`, CHAR_NGRAM_WEIGHT)
        }
      }
    }
    return normalizeInPlace(vector)
  }

  #add (vector: Float32Array, feature: string, weight: number): void {
    const hash = fnv1a(feature)
    const sign = (hash & 0x80000000) === 0 ? 1 : -1
    vector[(hash >>> 0) % this.dimensions] += sign * weight
  }
}

/** 32-bit FNV-1a over UTF-16 code units: cheap and well spread for short strings. */
function fnv1a (text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
