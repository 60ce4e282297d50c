import type { Embedder } from './embedder.ts'
import { HashEmbedder } from './hash-embedder.ts'
import { UseEmbedder } from './use-embedder.ts'

export type EmbedderKind = 'use' | 'hash'

export const EMBEDDER_KINDS: readonly EmbedderKind[] = ['use', 'hash']

/** 'use': semantic Universal Sentence Encoder (512-d). 'hash': lexical feature hashing (384-d). */
export function createEmbedder (kind: EmbedderKind): Embedder {
  switch (kind) {
    case 'use': return new UseEmbedder()
    case 'hash': return new HashEmbedder()
    default: throw new Error(`unknown embedder '${String(kind)}', expected one of: ${EMBEDDER_KINDS.join(', ')}`)
  }
}
