import { availableParallelism } from 'node:os'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { ReasoningBankError } from './errors.ts'
import { embeddingDigest } from './fingerprint.ts'
import type { HnswIndexOptions } from './hnsw-index.ts'
import type { NamedVector } from './hnsw-shard-build.ts'
import { LabelledHnswIndex, loadLabelled, type HnswParams, type LabelledGraph, type Loaded } from './labelled-hnsw-index.ts'
import { loadQuantizedAddon, type NativeQuantizedHnsw, type QuantizedAddon } from './quantized-addon.ts'
import type { VectorIndex } from './vector-index.ts'

/**
 * On 100k loose-cluster 384-d vectors (bench:vectors), efConstruction 100 with ef 80 kept recall@10
 * ≥ 0.98 against the float32 exact scan in every build measured (0.983–0.995; builds on several
 * threads differ), once the ef candidates are re-ranked by their float16 components: int8 distances
 * alone capped it near 0.98. ef 64 was 0.967–0.993. efConstruction 80 built 20 % faster but lost
 * recall at every ef.
 */
export const DEFAULT_QUANTIZED_PARAMS: Readonly<HnswParams> = { m: 16, efConstruction: 100, ef: 80, seed: 100 }

export interface QuantizedBuildOptions {
  dimensions: number
  embedder: string
  params?: Partial<HnswParams>
  /** Threads inserting at once; default os.availableParallelism(). */
  threads?: number
  onProgress?: (progress: { done: number, total: number }) => void
  /** Aborting stops the insert threads (each after its current insert) and rejects with the signal's reason. */
  signal?: AbortSignal
}

const FILES = { index: 'patterns-int8.hnsw', sidecar: 'patterns-int8.hnsw.json' }
const MIN_CAPACITY = 64
const PROGRESS_EVERY_MS = 250
/** Rows copied or digested between yields to the event loop while a bulk build runs. */
const CHUNK = 1000

/**
 * Approximate k-NN over named vectors in one HNSW graph walked by int8-quantized unit vectors (388 bytes
 * per 384-d vector instead of 1,536), whose ef candidates are re-ranked by float16 copies of the same
 * vectors. A bulk build inserts on every core at once, off the JavaScript thread; later upserts insert
 * one at a time.
 */
export class QuantizedHnswIndex extends LabelledHnswIndex implements VectorIndex {
  readonly kind = 'hnsw-int8'
  readonly shardCount = 1
  readonly #native: NativeQuantizedHnsw

  private constructor (dimensions: number, embedder: string, params: HnswParams, native: NativeQuantizedHnsw) {
    super(dimensions, embedder, params, graphOf(native), FILES)
    this.#native = native
  }

  static create (options: HnswIndexOptions): QuantizedHnswIndex {
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) throw new RangeError(`dimensions must be a positive integer, got ${options.dimensions}`)
    const params = { ...DEFAULT_QUANTIZED_PARAMS, ...options.params }
    const native = new (addon().QuantizedHnsw)(options.dimensions, Math.max(MIN_CAPACITY, options.initialCapacity ?? 0), params.m, params.efConstruction, params.seed)
    return new QuantizedHnswIndex(options.dimensions, options.embedder, params, native)
  }

  /**
   * Builds an index of `entries` with every thread inserting into the one graph at once. This thread
   * only copies the vectors and digests them while the graph grows, yielding between chunks.
   */
  static async build (entries: readonly NamedVector[], options: QuantizedBuildOptions): Promise<QuantizedHnswIndex> {
    const { dimensions, signal } = options
    const threads = options.threads ?? availableParallelism()
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`)
    const index = QuantizedHnswIndex.create({ ...options, initialCapacity: entries.length })
    const total = entries.length
    const rows = new Float32Array(total * dimensions)
    for (let start = 0; start < total; start += CHUNK) {
      signal?.throwIfAborted()
      for (let row = start; row < Math.min(total, start + CHUNK); row++) {
        const { name, vector } = entries[row] as NamedVector
        if (vector.length !== dimensions) throw new RangeError(`vector for '${name}' has ${vector.length} dimensions, the index ${dimensions}`)
        rows.set(vector, row * dimensions)
      }
      await yieldToEventLoop()
    }
    const native = index.#native
    const inserting = native.addMany(Uint32Array.from({ length: total }, (_, label) => label), rows, threads)
    const onAbort = (): void => { native.cancel() }
    signal?.addEventListener('abort', onAbort, { once: true })
    const progress = setInterval(() => { options.onProgress?.({ done: native.inserted(), total }) }, PROGRESS_EVERY_MS)
    progress.unref()
    try {
      // Both awaited at once: a cancel while the digests run must find the insert's rejection handled.
      const [digests] = await Promise.all([digestAll(rows, total, dimensions), inserting])
      index.adoptLabels(entries.map((entry) => entry.name), digests)
      options.onProgress?.({ done: total, total })
      return index
    } catch (error) {
      native.cancel()
      await inserting.catch(() => {})
      throw signal?.aborted === true ? signal.reason : error
    } finally {
      clearInterval(progress)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Reads an index saved by `save`; a missing, partial or inconsistent pair of files is reported, not thrown. */
  static async load (dir: string): Promise<Loaded<QuantizedHnswIndex>> {
    return await loadLabelled(dir, FILES, async (sidecar, indexPath) => {
      const loaded = loadQuantizedAddon()
      if (!loaded.ok) return loaded.reason
      const index = new QuantizedHnswIndex(sidecar.dimensions, sidecar.embedder, sidecar.params, new loaded.addon.QuantizedHnsw(sidecar.dimensions, indexPath))
      return index.restoreLabels(sidecar) ? index : 'index file and sidecar disagree on the number of vectors'
    })
  }

  /** Graph bytes per vector slot: base-layer links, int8 codes with their scale, and the label. */
  get bytesPerVector (): number {
    return this.#native.bytesPerVector()
  }
}

function graphOf (native: NativeQuantizedHnsw): LabelledGraph {
  return {
    add: (label, vector, replaceDeleted) => { native.add(label, toFloat32(vector), replaceDeleted) },
    markDelete: (label) => { native.markDelete(label) },
    search: (query, k, filter) => native.search(toFloat32(query), k, filter),
    count: () => native.count(),
    capacity: () => native.capacity(),
    resize: (capacity) => { native.resize(capacity) },
    getEf: () => native.getEf(),
    setEf: (ef) => { native.setEf(ef) },
    write: (path) => { native.save(path) }
  }
}

function addon (): QuantizedAddon {
  const loaded = loadQuantizedAddon()
  if (!loaded.ok) throw new ReasoningBankError('INDEX_UNAVAILABLE', loaded.reason)
  return loaded.addon
}

/** Digests of every row, in chunks between which the event loop runs. */
async function digestAll (rows: Float32Array, count: number, dimensions: number): Promise<string[]> {
  const digests = new Array<string>(count)
  for (let start = 0; start < count; start += CHUNK) {
    for (let row = start; row < Math.min(count, start + CHUNK); row++) digests[row] = embeddingDigest(rows.subarray(row * dimensions, (row + 1) * dimensions))
    await yieldToEventLoop()
  }
  return digests
}

function toFloat32 (vector: ArrayLike<number>): Float32Array {
  return vector instanceof Float32Array ? vector : Float32Array.from(vector)
}
