import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import hnswlib from 'hnswlib-node'
import { embeddingDigest, fingerprint } from './fingerprint.ts'

/** HNSW graph parameters: M links per node, efConstruction/ef candidate-list sizes when building/searching. */
export interface HnswParams {
  m: number
  efConstruction: number
  ef: number
  seed: number
}

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

export interface IndexMatch {
  name: string
  /** Cosine similarity to the query, in [-1, 1]. */
  similarity: number
}

/** What `load` found: a usable index, or why there is none. */
export type LoadedIndex =
  | { ok: true, index: HnswIndex, fingerprint: string }
  | { ok: false, reason: string }

interface Sidecar {
  format: number
  embedder: string
  dimensions: number
  params: HnswParams
  /** fingerprint() of `entries`, for staleness checks without reading the entries. */
  fingerprint: string
  nextLabel: number
  deletedSlots: number
  indexBytes: number
  entries: Array<[name: string, label: number, digest: string]>
}

const SIDECAR_FORMAT = 1
const INDEX_FILE = 'patterns.hnsw'
const SIDECAR_FILE = 'patterns.hnsw.json'
const MIN_CAPACITY = 64

/**
 * Approximate k-NN over named vectors with hnswlib's HierarchicalNSW in cosine space. hnswlib knows only
 * integer labels, so this keeps the label ↔ name map and, per name, a digest of the vector indexed, which
 * makes re-adding an unchanged vector a no-op. A changed vector gets a fresh label and its old one is
 * mark-deleted; deleted slots are reused by later additions, so updates do not grow the index.
 */
export class HnswIndex {
  readonly dimensions: number
  readonly embedder: string
  readonly params: Readonly<HnswParams>
  readonly #hnsw: hnswlib.HierarchicalNSW
  readonly #byName = new Map<string, { label: number, digest: string }>()
  readonly #names = new Map<number, string>()
  #nextLabel = 0
  /** Mark-deleted slots not yet reused; they still count towards hnswlib's element count. */
  #deletedSlots = 0

  private constructor (dimensions: number, embedder: string, params: HnswParams, hnsw: hnswlib.HierarchicalNSW) {
    this.dimensions = dimensions
    this.embedder = embedder
    this.params = params
    this.#hnsw = hnsw
    this.#hnsw.setEf(params.ef)
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
    if (hnsw.getCurrentCount() !== names.length || digests.length !== names.length) throw new Error(`built shard holds ${hnsw.getCurrentCount()} vectors for ${names.length} names`)
    const index = new HnswIndex(options.dimensions, options.embedder, options.params, hnsw)
    names.forEach((name, label) => {
      index.#byName.set(name, { label, digest: digests[label] as string })
      index.#names.set(label, name)
    })
    index.#nextLabel = names.length
    return index
  }

  /** Reads an index saved by `save`; a missing, partial or inconsistent pair of files is reported, not thrown. */
  static async load (dir: string): Promise<LoadedIndex> {
    let sidecar: Sidecar
    try {
      sidecar = JSON.parse(await readFile(join(dir, SIDECAR_FILE), 'utf8')) as Sidecar
    } catch (error) {
      return { ok: false, reason: isMissing(error) ? 'no saved index' : `unreadable sidecar: ${String(error)}` }
    }
    if (sidecar.format !== SIDECAR_FORMAT) return { ok: false, reason: `sidecar format ${sidecar.format}, expected ${SIDECAR_FORMAT}` }
    const indexPath = join(dir, INDEX_FILE)
    try {
      const { size } = await stat(indexPath)
      if (size !== sidecar.indexBytes) return { ok: false, reason: `index file has ${size} bytes, the sidecar says ${sidecar.indexBytes}` }
      const hnsw = new hnswlib.HierarchicalNSW('cosine', sidecar.dimensions)
      await hnsw.readIndex(indexPath, true)
      const index = new HnswIndex(sidecar.dimensions, sidecar.embedder, sidecar.params, hnsw)
      for (const [name, label, digest] of sidecar.entries) {
        index.#byName.set(name, { label, digest })
        index.#names.set(label, name)
      }
      index.#nextLabel = sidecar.nextLabel
      index.#deletedSlots = sidecar.deletedSlots
      if (hnsw.getCurrentCount() !== sidecar.entries.length + sidecar.deletedSlots) return { ok: false, reason: 'index file and sidecar disagree on the number of vectors' }
      return { ok: true, index, fingerprint: sidecar.fingerprint }
    } catch (error) {
      return { ok: false, reason: isMissing(error) ? 'index file missing' : `unreadable index: ${String(error)}` }
    }
  }

  /** Number of names indexed (mark-deleted slots excluded). */
  get size (): number {
    return this.#byName.size
  }

  get capacity (): number {
    return this.#hnsw.getMaxElements()
  }

  get ef (): number {
    return this.#hnsw.getEf()
  }

  set ef (ef: number) {
    this.#hnsw.setEf(ef)
  }

  has (name: string): boolean {
    return this.#byName.has(name)
  }

  /** (name, vector digest) of every indexed name, the input to fingerprint(). */
  * entries (): IterableIterator<[string, string]> {
    for (const [name, { digest }] of this.#byName) yield [name, digest]
  }

  fingerprint (): string {
    return fingerprint(this.entries())
  }

  /** Adds or replaces the vector of `name`; returns false when the same vector is already indexed. */
  upsert (name: string, vector: ArrayLike<number>, digest: string = embeddingDigest(vector)): boolean {
    this.#checkDimensions(vector, `vector for '${name}'`)
    const existing = this.#byName.get(name)
    if (existing?.digest === digest) return false
    if (existing !== undefined) this.#markDeleted(name, existing.label)
    const reuseSlot = this.#deletedSlots > 0
    if (!reuseSlot && this.#hnsw.getCurrentCount() >= this.#hnsw.getMaxElements()) {
      // A loaded index can report a capacity of 0 (hnswlib saves the count, not the room), so never double 0.
      this.#hnsw.resizeIndex(Math.max(MIN_CAPACITY, this.#hnsw.getMaxElements() * 2))
    }
    const label = this.#nextLabel++
    this.#hnsw.addPoint(toArray(vector), label, reuseSlot)
    if (reuseSlot) this.#deletedSlots--
    this.#byName.set(name, { label, digest })
    this.#names.set(label, name)
    return true
  }

  remove (name: string): boolean {
    const existing = this.#byName.get(name)
    if (existing === undefined) return false
    this.#markDeleted(name, existing.label)
    return true
  }

  /** The k nearest names by cosine similarity, best first, among those `filter` accepts. */
  search (query: ArrayLike<number>, k: number, filter?: (name: string) => boolean): IndexMatch[] {
    this.#checkDimensions(query, 'query vector')
    const wanted = Math.min(Math.floor(k), this.#byName.size)
    if (wanted <= 0) return []
    const labelFilter = filter === undefined ? undefined : (label: number): boolean => filter(this.#names.get(label) as string)
    const { neighbors, distances } = this.#hnsw.searchKnn(toArray(query), wanted, labelFilter)
    return neighbors.map((label, i) => ({ name: this.#names.get(label) as string, similarity: 1 - (distances[i] as number) }))
  }

  /**
   * Writes the index file, then the sidecar (label map, embedder, dimensions, fingerprint), each via a
   * temporary file and rename; the sidecar records the index file size so a torn pair is detected on load.
   * Synchronous hnswlib write on purpose: its async variant reads the graph from another thread while
   * this one may still mutate it.
   */
  async save (dir: string): Promise<void> {
    await mkdir(dir, { recursive: true })
    const indexPath = join(dir, INDEX_FILE)
    this.#hnsw.writeIndexSync(`${indexPath}.tmp`)
    const { size } = await stat(`${indexPath}.tmp`)
    await rename(`${indexPath}.tmp`, indexPath)
    const sidecar: Sidecar = {
      format: SIDECAR_FORMAT,
      embedder: this.embedder,
      dimensions: this.dimensions,
      params: { ...this.params },
      fingerprint: this.fingerprint(),
      nextLabel: this.#nextLabel,
      deletedSlots: this.#deletedSlots,
      indexBytes: size,
      entries: [...this.#byName].map(([name, { label, digest }]) => [name, label, digest])
    }
    const sidecarPath = join(dir, SIDECAR_FILE)
    await writeFile(`${sidecarPath}.tmp`, JSON.stringify(sidecar))
    await rename(`${sidecarPath}.tmp`, sidecarPath)
  }

  #markDeleted (name: string, label: number): void {
    this.#hnsw.markDelete(label)
    this.#deletedSlots++
    this.#byName.delete(name)
    this.#names.delete(label)
  }

  #checkDimensions (vector: ArrayLike<number>, what: string): void {
    if (vector.length !== this.dimensions) throw new RangeError(`${what} has ${vector.length} dimensions, the index ${this.dimensions} (embedder ${this.embedder})`)
  }
}

/** hnswlib's binding accepts plain arrays only, not typed arrays. (A plain loop beats Array.from here.) */
function toArray (vector: ArrayLike<number>): number[] {
  if (Array.isArray(vector)) return vector
  const array = new Array<number>(vector.length)
  for (let i = 0; i < vector.length; i++) array[i] = vector[i]
  return array
}

function isMissing (error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}
