import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { Index, MetricKind, ScalarKind } from 'usearch'
import { embeddingDigest, fingerprint } from './fingerprint.ts'

/** How each vector is stored in the graph: 4, 2 or 1 byte per dimension. Distances are computed in that form. */
export type Quantization = 'f32' | 'f16' | 'i8'
export const QUANTIZATIONS: readonly Quantization[] = ['f32', 'f16', 'i8']

/** HNSW graph parameters: M links per node, efConstruction/ef candidate-list sizes when building/searching. */
export interface HnswParams {
  m: number
  efConstruction: number
  ef: number
  quantization: Quantization
}

/**
 * On 100k clustered 384-d vectors (bench:vectors, docs/BENCHMARKS.md), efConstruction 128 reaches recall@10
 * 0.98 at ef = 64 on the loose clusters; ef = 100 keeps a margin above it. f32 is the default because i8
 * loses recall on unit vectors (their components are small for its fixed scale); f16 is the option.
 */
export const DEFAULT_HNSW_PARAMS: Readonly<HnswParams> = { m: 16, efConstruction: 128, ef: 100, quantization: 'f32' }

export interface HnswIndexOptions {
  dimensions: number
  /** Id of the embedder whose vector space the index holds; saved so a different embedder forces a rebuild. */
  embedder: string
  params?: Partial<HnswParams>
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
  nextKey: number
  indexBytes: number
  entries: Array<[name: string, key: number, digest: string]>
}

/** Format 2: the graph file is USearch's (format 1 was hnswlib's, which is not read: such an index is rebuilt). */
const SIDECAR_FORMAT = 2
const INDEX_FILE = 'patterns.hnsw'
const SIDECAR_FILE = 'patterns.hnsw.json'
/**
 * Vectors per `upsertMany` call when an index is built from many: large enough to keep every core busy,
 * small enough that the caller can yield to its event loop between calls.
 */
export const REBUILD_BATCH = 1000
/**
 * Every core for insertion. Single additions pass it too: USearch sizes its per-thread search contexts
 * when it grows, and growing for one thread would leave later batches contending for one context.
 */
const BUILD_THREADS = availableParallelism()
/** A single query is cheaper on one thread than split. */
const SEARCH_THREADS = 1
/** A filtered search first fetches this many times k candidates, then widens by the same factor. */
const FILTER_OVERFETCH = 4

const SCALAR_KINDS: Record<Quantization, ScalarKind> = { f32: ScalarKind.F32, f16: ScalarKind.F16, i8: ScalarKind.I8 }

/**
 * Approximate k-NN over named vectors with USearch's HNSW in cosine space. The graph knows only integer
 * keys, so this keeps the key ↔ name map and, per name, a digest of the vector indexed, which makes
 * re-adding an unchanged vector a no-op. A changed vector gets a fresh key and its old one is removed; USearch
 * reuses removed slots, so updates do not grow the index. `upsertMany` inserts a batch on every core.
 */
export class HnswIndex {
  readonly dimensions: number
  readonly embedder: string
  readonly params: Readonly<HnswParams>
  readonly #graph: Index
  readonly #byName = new Map<string, { key: number, digest: string }>()
  readonly #names = new Map<number, string>()
  #nextKey = 0

  private constructor (dimensions: number, embedder: string, params: HnswParams, graph: Index) {
    this.dimensions = dimensions
    this.embedder = embedder
    this.params = params
    this.#graph = graph
  }

  static create (options: HnswIndexOptions): HnswIndex {
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) throw new RangeError(`dimensions must be a positive integer, got ${options.dimensions}`)
    const params = checkParams({ ...DEFAULT_HNSW_PARAMS, ...options.params })
    return new HnswIndex(options.dimensions, options.embedder, params, newGraph(options.dimensions, params))
  }

  /**
   * Reads an index saved by `save`; a missing, partial or inconsistent pair of files is reported, not thrown.
   * `ef` is a search-time choice, so it may differ from the one the index was saved with.
   */
  static async load (dir: string, overrides: { ef?: number } = {}): Promise<LoadedIndex> {
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
      const params = checkParams({ ...sidecar.params, ...(overrides.ef === undefined ? {} : { ef: overrides.ef }) })
      const graph = newGraph(sidecar.dimensions, params)
      graph.load(indexPath)
      const index = new HnswIndex(sidecar.dimensions, sidecar.embedder, params, graph)
      for (const [name, key, digest] of sidecar.entries) {
        index.#byName.set(name, { key, digest })
        index.#names.set(key, name)
      }
      index.#nextKey = sidecar.nextKey
      if (graph.size() !== sidecar.entries.length) return { ok: false, reason: 'index file and sidecar disagree on the number of vectors' }
      return { ok: true, index, fingerprint: sidecar.fingerprint }
    } catch (error) {
      return { ok: false, reason: isMissing(error) ? 'index file missing' : `unreadable index: ${String(error)}` }
    }
  }

  /** Number of names indexed. */
  get size (): number {
    return this.#byName.size
  }

  get capacity (): number {
    return this.#graph.capacity()
  }

  get ef (): number {
    return this.params.ef
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
    this.#checkDimensions(vector.length, `vector for '${name}'`)
    if (!this.#replace(name, digest)) return false
    this.#graph.add(BigInt(this.#claimKey(name, digest)), Float32Array.from(vector), BUILD_THREADS)
    return true
  }

  /**
   * Adds or replaces many vectors at once, inserting them on every core: row i of `matrix` is the vector of
   * `names[i]`. Returns how many were new or changed.
   */
  upsertMany (names: readonly string[], matrix: Float32Array, digests?: readonly string[]): number {
    if (matrix.length !== names.length * this.dimensions) throw new RangeError(`a batch of ${names.length} names needs ${names.length * this.dimensions} values, got ${matrix.length} (the index has ${this.dimensions} dimensions)`)
    if (new Set(names).size !== names.length) throw new RangeError('a batch names each vector once')
    const keys: number[] = []
    const rows: number[] = []
    names.forEach((name, i) => {
      const digest = digests?.[i] ?? embeddingDigest(this.#row(matrix, i))
      if (!this.#replace(name, digest)) return
      keys.push(this.#claimKey(name, digest))
      rows.push(i)
    })
    if (keys.length === 0) return 0
    const vectors = rows.length === names.length ? matrix : new Float32Array(rows.length * this.dimensions)
    if (vectors !== matrix) rows.forEach((row, i) => { vectors.set(this.#row(matrix, row), i * this.dimensions) })
    this.#graph.add(BigUint64Array.from(keys, BigInt), vectors, BUILD_THREADS)
    return keys.length
  }

  remove (name: string): boolean {
    const existing = this.#byName.get(name)
    if (existing === undefined) return false
    this.#forget(name, existing.key)
    return true
  }

  /**
   * The k nearest names by cosine similarity, best first, among those `filter` accepts. The graph cannot
   * filter while it walks, so a filtered search fetches more candidates than wanted and widens until k pass
   * or the whole index was returned.
   */
  search (query: ArrayLike<number>, k: number, filter?: (name: string) => boolean): IndexMatch[] {
    this.#checkDimensions(query.length, 'query vector')
    const wanted = Math.min(Math.floor(k), this.#byName.size)
    if (wanted <= 0) return []
    const vector = Float32Array.from(query)
    for (let fetch = filter === undefined ? wanted : Math.min(this.#byName.size, wanted * FILTER_OVERFETCH); ; fetch = Math.min(this.#byName.size, fetch * FILTER_OVERFETCH)) {
      const { keys, distances } = this.#graph.search(vector, fetch, SEARCH_THREADS)
      const matches: IndexMatch[] = []
      for (let i = 0; i < keys.length && matches.length < wanted; i++) {
        const name = this.#names.get(Number(keys[i]))
        if (name === undefined || (filter !== undefined && !filter(name))) continue
        matches.push({ name, similarity: 1 - (distances[i] as number) })
      }
      if (matches.length >= wanted || fetch >= this.#byName.size) return matches
    }
  }

  /**
   * Writes the index file, then the sidecar (key map, embedder, dimensions, fingerprint), each via a
   * temporary file and rename; the sidecar records the index file size so a torn pair is detected on load.
   */
  async save (dir: string): Promise<void> {
    await mkdir(dir, { recursive: true })
    const indexPath = join(dir, INDEX_FILE)
    this.#graph.save(`${indexPath}.tmp`)
    const { size } = await stat(`${indexPath}.tmp`)
    await rename(`${indexPath}.tmp`, indexPath)
    const sidecar: Sidecar = {
      format: SIDECAR_FORMAT,
      embedder: this.embedder,
      dimensions: this.dimensions,
      params: { ...this.params },
      fingerprint: this.fingerprint(),
      nextKey: this.#nextKey,
      indexBytes: size,
      entries: [...this.#byName].map(([name, { key, digest }]) => [name, key, digest])
    }
    const sidecarPath = join(dir, SIDECAR_FILE)
    await writeFile(`${sidecarPath}.tmp`, JSON.stringify(sidecar))
    await rename(`${sidecarPath}.tmp`, sidecarPath)
  }

  /** Removes the old vector of `name` if its digest differs; false when the same vector is indexed already. */
  #replace (name: string, digest: string): boolean {
    const existing = this.#byName.get(name)
    if (existing?.digest === digest) return false
    if (existing !== undefined) this.#forget(name, existing.key)
    return true
  }

  #claimKey (name: string, digest: string): number {
    const key = this.#nextKey++
    this.#byName.set(name, { key, digest })
    this.#names.set(key, name)
    return key
  }

  #forget (name: string, key: number): void {
    this.#graph.remove(BigInt(key))
    this.#byName.delete(name)
    this.#names.delete(key)
  }

  #row (matrix: Float32Array, i: number): Float32Array {
    return matrix.subarray(i * this.dimensions, (i + 1) * this.dimensions)
  }

  #checkDimensions (length: number, what: string): void {
    if (length !== this.dimensions) throw new RangeError(`${what} has ${length} dimensions, the index ${this.dimensions} (embedder ${this.embedder})`)
  }
}

function newGraph (dimensions: number, params: HnswParams): Index {
  return new Index({
    dimensions,
    metric: MetricKind.Cos,
    quantization: SCALAR_KINDS[params.quantization],
    connectivity: params.m,
    expansion_add: params.efConstruction,
    expansion_search: params.ef,
    multi: false
  })
}

function checkParams (params: HnswParams): HnswParams {
  if (!QUANTIZATIONS.includes(params.quantization)) throw new RangeError(`quantization must be one of ${QUANTIZATIONS.join(', ')}, got '${String(params.quantization)}'`)
  for (const field of ['m', 'efConstruction', 'ef'] as const) {
    if (!Number.isInteger(params[field]) || params[field] < 1) throw new RangeError(`${field} must be a positive integer, got ${params[field]}`)
  }
  return params
}

function isMissing (error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}
