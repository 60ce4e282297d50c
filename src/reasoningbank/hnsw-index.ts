import hnswlib from 'hnswlib-node'
import { LabelledHnswIndex, loadLabelled, type HnswParams, type LabelledGraph, type Loaded } from './labelled-hnsw-index.ts'

export type { HnswParams, IndexMatch } from './labelled-hnsw-index.ts'

/**
 * For an index of one shard per core (ShardedHnswIndex): on 100k loose-cluster 384-d vectors in two
 * shards, efConstruction 80 with ef 64 kept recall@10 ≥ 0.98 (0.9845), where 64 needed ef 100 and a
 * single index needed efConstruction 100 (bench:vectors; docs/BENCHMARKS.md).
 */
export const DEFAULT_HNSW_PARAMS: Readonly<HnswParams> = { m: 16, efConstruction: 80, ef: 64, seed: 100 }

export interface HnswIndexOptions {
  dimensions: number
  /** Id of the embedder whose vector space the index holds; saved so a different embedder forces a rebuild. */
  embedder: string
  params?: Partial<HnswParams>
  /** Slots allocated up front; the index grows by doubling when full. */
  initialCapacity?: number
}

/** What `load` found: a usable index, or why there is none. */
export type LoadedIndex = Loaded<HnswIndex>

const FILES = { index: 'patterns.hnsw', sidecar: 'patterns.hnsw.json' }
const MIN_CAPACITY = 64

/** Approximate k-NN over named vectors with hnswlib-node's HierarchicalNSW in cosine space, float32. */
export class HnswIndex extends LabelledHnswIndex {
  private constructor (dimensions: number, embedder: string, params: HnswParams, hnsw: hnswlib.HierarchicalNSW) {
    super(dimensions, embedder, params, graphOf(hnsw), FILES)
  }

  static create (options: HnswIndexOptions): HnswIndex {
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) throw new RangeError(`dimensions must be a positive integer, got ${options.dimensions}`)
    const params = { ...DEFAULT_HNSW_PARAMS, ...options.params }
    const hnsw = new hnswlib.HierarchicalNSW('cosine', options.dimensions)
    const capacity = Math.max(MIN_CAPACITY, options.initialCapacity ?? 0)
    hnsw.initIndex({ maxElements: capacity, m: params.m, efConstruction: params.efConstruction, randomSeed: params.seed, allowReplaceDeleted: true })
    return new HnswIndex(options.dimensions, options.embedder, params, hnsw)
  }

  /**
   * Takes over an hnswlib index file written by a shard-building worker, whose labels are 0..n-1 in the
   * order of `names`; `digests` are the digests of the vectors indexed under those names.
   */
  static async adopt (path: string, options: HnswIndexOptions & { params: HnswParams }, names: readonly string[], digests: readonly string[]): Promise<HnswIndex> {
    const hnsw = new hnswlib.HierarchicalNSW('cosine', options.dimensions)
    await hnsw.readIndex(path, true)
    const index = new HnswIndex(options.dimensions, options.embedder, options.params, hnsw)
    index.adoptLabels(names, digests)
    return index
  }

  /** Reads an index saved by `save`; a missing, partial or inconsistent pair of files is reported, not thrown. */
  static async load (dir: string): Promise<LoadedIndex> {
    return await loadLabelled(dir, FILES, async (sidecar, indexPath) => {
      const hnsw = new hnswlib.HierarchicalNSW('cosine', sidecar.dimensions)
      await hnsw.readIndex(indexPath, true)
      const index = new HnswIndex(sidecar.dimensions, sidecar.embedder, sidecar.params, hnsw)
      return index.restoreLabels(sidecar) ? index : 'index file and sidecar disagree on the number of vectors'
    })
  }
}

/**
 * hnswlib-node's calls as a LabelledGraph. Its write is the synchronous one on purpose: the async variant
 * reads the graph from another thread while this one may still mutate it.
 */
function graphOf (hnsw: hnswlib.HierarchicalNSW): LabelledGraph {
  return {
    add: (label, vector, replaceDeleted) => { hnsw.addPoint(toArray(vector), label, replaceDeleted) },
    markDelete: (label) => { hnsw.markDelete(label) },
    search: (query, k, filter) => {
      const { neighbors, distances } = hnsw.searchKnn(toArray(query), k, filter)
      return { labels: neighbors, distances }
    },
    count: () => hnsw.getCurrentCount(),
    capacity: () => hnsw.getMaxElements(),
    resize: (capacity) => { hnsw.resizeIndex(capacity) },
    getEf: () => hnsw.getEf(),
    setEf: (ef) => { hnsw.setEf(ef) },
    write: (path) => { hnsw.writeIndexSync(path) }
  }
}

/** hnswlib's binding accepts plain arrays only, not typed arrays. (A plain loop beats Array.from here.) */
function toArray (vector: ArrayLike<number>): number[] {
  if (Array.isArray(vector)) return vector
  const array = new Array<number>(vector.length)
  for (let i = 0; i < vector.length; i++) array[i] = vector[i]
  return array
}
