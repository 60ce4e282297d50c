import { availableParallelism } from 'node:os'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { mergePatterns, planConsolidation, type ConsolidationOptions, type ConsolidationPlan } from './consolidate.ts'
import type { Embedder } from './embedder.ts'
import { ReasoningBankError } from './errors.ts'
import { embeddingDigest, fingerprint } from './fingerprint.ts'
import { exactSearchNamed } from './exact-search.ts'
import { DEFAULT_HNSW_PARAMS, type HnswParams, type IndexMatch } from './hnsw-index.ts'
import { buildShardedIndex, type NamedVector } from './hnsw-shard-build.ts'
import { loadQuantizedAddon } from './quantized-addon.ts'
import { DEFAULT_QUANTIZED_PARAMS, QuantizedHnswIndex } from './quantized-hnsw-index.ts'
import { Int8Vectors } from './int8-vectors.ts'
import { applyOutcome, DEFAULT_CONFIDENCE } from './learning.ts'
import { withoutEmbedding, type Pattern, type PatternInfo } from './pattern.ts'
import type { PatternStore } from './pattern-store.ts'
import { RetrievalCounts } from './retrieval-counts.ts'
import { scorePattern, type ScoreParts } from './scoring.ts'
import { ShardedHnswIndex } from './sharded-hnsw-index.ts'
import type { LoadedVectorIndex, VectorIndex, VectorIndexKind } from './vector-index.ts'
import { normalizeInPlace } from './vector-math.ts'

export interface OpenOptions {
  store: PatternStore
  embedder: Embedder
  /** Directory for the saved HNSW index and the local retrieval counts. */
  indexDir: string
  /** Called while the index is rebuilt from the store (in the background, after `open` returned). */
  onProgress?: (progress: { done: number, total: number }) => void
  hnsw?: Partial<HnswParams>
  /**
   * 'int8' (default where the native addon is built): one graph of int8-quantized vectors, built by
   * every core at once. 'float32': hnswlib-node shards, one per core, each built in a worker thread;
   * the default where the addon is missing, and `stats().index.note` then says why.
   */
  vectorIndex?: 'int8' | 'float32'
  /**
   * Threads of an int8 build, or shards of a float32 build built by worker threads, one per shard;
   * default os.availableParallelism(). A small float32 build, on this thread, makes one shard: it gains
   * nothing from more, and every shard adds a search per query.
   */
  shards?: number
  /**
   * What the exact scan reads while the index builds: 'store', the store's own vectors (no copy), or
   * 'int8', an int8 copy of them taken when the build starts (dimensions + 4 bytes a vector; recall@10
   * 0.99 against float32 in bench:vectors), which does not read the store per query.
   */
  exactScanVectors?: 'store' | 'int8'
  /** Clock, for tests. */
  now?: () => number
}

/** Where the open bank's index came from; `reason` says why a saved one could not be used. */
export type IndexOrigin = { source: 'loaded' } | { source: 'rebuilt', reason: string }

/**
 * Whether the HNSW index serves searches yet. Until it is ready (and for good if its build failed) the
 * bank answers with an exact scan over the store: slower, never less accurate.
 */
export type IndexState =
  | { state: 'building', done: number, total: number }
  | { state: 'ready' }
  | { state: 'failed', reason: string }

export interface StorePatternInput {
  name: string
  content: string
  namespace: string
  confidence?: number
  metadata?: Record<string, unknown>
}

export interface QueryOptions {
  namespace?: string
  minConfidence?: number
  /** Results wanted; default 5. */
  limit?: number
  /** Adds the score parts to each match. */
  explain?: boolean
}

export interface QueryMatch {
  pattern: PatternInfo
  score: number
  similarity: number
  explain?: ScoreParts
}

export type ListSort = 'confidence' | 'uses' | 'recent'

export interface ListOptions {
  namespace?: string
  /** Default 'confidence' (highest first); 'uses' most first; 'recent' latest lastUsedAt first. */
  sort?: ListSort
  limit?: number
}

export interface BankStats {
  patterns: number
  /** Patterns searchable: in the index, or by the exact scan while the index builds. */
  indexed: number
  /** Patterns embedded by another embedder (or of another size): not searchable until `reembed()`. */
  unindexed: number
  totals: { uses: number, successes: number, failures: number, retrievals: number }
  namespaces: Array<{ namespace: string, patterns: number, meanConfidence: number }>
  mostRetrieved: Array<{ name: string, retrievals: number }>
  /** Pattern counts by confidence: bucket i holds [i/10, (i+1)/10), the last one includes 1. */
  confidenceHistogram: number[]
  embedder: { id: string, dimensions: number, semantic: boolean }
  index: IndexState & {
    origin: IndexOrigin
    kind: VectorIndexKind
    /** Why the index is not the int8 one when it was not asked for by name. */
    note?: string
    search: 'hnsw' | 'exact' | 'exact-int8'
    shards: number
    capacity: number
    ef: number
  }
}

export interface ConsolidationResult extends ConsolidationPlan {
  applied: boolean
}

const DEFAULT_LIMIT = 5
const MAX_QUERY_LIMIT = 1000
/** Nearest neighbours fetched per wanted result, so that confidence and recency can reorder close matches. */
const CANDIDATES_PER_RESULT = 4
const MIN_CANDIDATES = 32
/** Neighbours examined per pattern when looking for near-duplicates. */
const DUPLICATE_CANDIDATES = 16
const REBUILD_CHUNK = 1000
/** Below this many vectors, starting threads costs more than building on this thread in chunks. */
const PARALLEL_BUILD_MIN = 2000
const EMBED_CHUNK = 64
const MOST_RETRIEVED = 5

/**
 * Learned patterns with vector search. Patterns live in the PatternStore (replicated memory); the bank
 * keeps an HNSW index of their embeddings in step with the store through its change events, so patterns
 * written by peers become searchable without a restart. Querying does not write to the store: retrieval
 * counts stay local (see RetrievalCounts); `uses` and `lastUsedAt` change only when an outcome is recorded.
 */
export class ReasoningBank {
  readonly embedder: Embedder
  readonly #store: PatternStore
  readonly #indexDir: string
  readonly #now: () => number
  /** Undefined until the index is loaded or built; searches use the exact scan meanwhile. */
  #index: VectorIndex | undefined
  readonly #kind: { kind: VectorIndexKind, note?: string }
  #indexState: IndexState
  /** Names changed in the store while the index builds, applied to it once built. */
  readonly #pendingChanges = new Set<string>()
  readonly #buildAbort = new AbortController()
  /** The int8 copy the exact scan reads while the index builds, when asked for; row i is `names[i]`. */
  #int8Copy: { names: string[], vectors: Int8Vectors } | undefined
  readonly #ef: number | undefined
  /** Settles when the index is ready or its build failed. */
  readonly indexReady: Promise<IndexState>
  readonly #retrievals: RetrievalCounts
  /** Namespace and confidence by name, so search filters need not read the store per candidate. */
  readonly #catalog = new Map<string, { namespace: string, confidence: number }>()
  readonly #unindexed = new Set<string>()
  readonly #origin: IndexOrigin
  #unsubscribe: () => void
  #closed = false

  private constructor (options: OpenOptions, kind: { kind: VectorIndexKind, note?: string }, index: VectorIndex | undefined, origin: IndexOrigin, retrievals: RetrievalCounts) {
    this.embedder = options.embedder
    this.#store = options.store
    this.#indexDir = options.indexDir
    this.#now = options.now ?? Date.now
    this.#ef = options.hnsw?.ef
    this.#index = index
    this.#kind = kind
    // A saved index keeps its build parameters, but the search-time ef may be chosen anew on each open.
    if (index !== undefined && this.#ef !== undefined) index.ef = this.#ef
    this.#indexState = index === undefined ? { state: 'building', done: 0, total: 0 } : { state: 'ready' }
    this.#origin = origin
    this.#retrievals = retrievals
    for (const pattern of this.#store.all()) {
      this.#catalogue(pattern)
      if (!isIndexable(pattern, this.embedder)) this.#unindexed.add(pattern.name)
    }
    this.#unsubscribe = this.#store.onChange((name, pattern) => { this.#onStoreChange(name, pattern) })
    this.indexReady = index === undefined ? this.#buildIndex(options) : Promise.resolve(this.#indexState)
  }

  /**
   * Opens the bank on `store`. The saved index is used when it was built by the same embedder and its
   * fingerprint matches the store's current embeddings; otherwise the index is rebuilt from the store in
   * the background (on every core) and `open` returns at once: queries use an exact scan until
   * `indexReady` settles, so a restart never waits for the build. Asking for 'int8' where the addon is
   * not built is an INDEX_UNAVAILABLE error.
   */
  static async open (options: OpenOptions): Promise<ReasoningBank> {
    const { store, embedder } = options
    const kind = indexKind(options.vectorIndex)
    const load = kind.kind === 'hnsw-int8' ? QuantizedHnswIndex.load : ShardedHnswIndex.load
    const [saved, retrievals] = await Promise.all([load(options.indexDir), RetrievalCounts.load(options.indexDir)])
    // From here to the constructor's subscription nothing awaits, so no store change can slip between.
    const verdict = reusable(saved, embedder, store)
    if ('index' in verdict) return new ReasoningBank(options, kind, verdict.index, { source: 'loaded' }, retrievals)
    return new ReasoningBank(options, kind, undefined, { source: 'rebuilt', reason: verdict.reason }, retrievals)
  }

  get indexOrigin (): IndexOrigin {
    return this.#origin
  }

  /** Embeds and stores a pattern. An existing name is updated: its counters and createdAt are kept. */
  async storePattern (input: StorePatternInput): Promise<PatternInfo> {
    this.#ensureOpen()
    const name = requireText(input.name, 'name')
    const content = requireText(input.content, 'content')
    const namespace = requireText(input.namespace, 'namespace')
    if (input.confidence !== undefined) requireUnitInterval(input.confidence, 'confidence')
    if (input.metadata !== undefined && (typeof input.metadata !== 'object' || input.metadata === null || Array.isArray(input.metadata))) {
      throw new ReasoningBankError('INVALID_INPUT', 'metadata must be an object')
    }
    const existing = this.#store.get(name)
    const reusable = existing !== undefined && existing.content === content && isIndexable(existing, this.embedder)
    const embedding = reusable ? existing.embedding : Array.from(await this.#embedOne(content))
    const now = this.#now()
    const pattern: Pattern = {
      name,
      content,
      namespace,
      confidence: input.confidence ?? existing?.confidence ?? DEFAULT_CONFIDENCE,
      uses: existing?.uses ?? 0,
      successes: existing?.successes ?? 0,
      failures: existing?.failures ?? 0,
      createdAt: existing?.createdAt ?? now,
      lastUsedAt: existing?.lastUsedAt ?? now,
      embedding,
      embedder: this.embedder.id,
      metadata: input.metadata ?? existing?.metadata ?? {}
    }
    await this.#store.put(pattern)
    return withoutEmbedding(pattern)
  }

  /** Patterns most relevant to `text`, best score first (see scoring.ts). */
  async query (text: string, options: QueryOptions = {}): Promise<QueryMatch[]> {
    this.#ensureOpen()
    if (typeof text !== 'string' || text.trim() === '') throw new ReasoningBankError('EMPTY_QUERY', 'query text is empty: describe the task to find patterns for')
    const limit = requireLimit(options.limit ?? DEFAULT_LIMIT, MAX_QUERY_LIMIT)
    const { namespace, minConfidence } = options
    if (minConfidence !== undefined) requireUnitInterval(minConfidence, 'minConfidence')
    if (namespace !== undefined) this.#requireNamespace(namespace)

    const vector = await this.#embedOne(text)
    const dimensions = this.#index?.dimensions ?? this.embedder.dimensions
    if (vector.length !== dimensions) {
      throw new ReasoningBankError('DIMENSION_MISMATCH', `embedder ${this.embedder.id} returned a ${vector.length}-dimensional vector, the index holds ${dimensions}-dimensional ones`)
    }
    const filter = namespace === undefined && minConfidence === undefined
      ? undefined
      : (name: string): boolean => {
          const entry = this.#catalog.get(name)
          return entry !== undefined && (namespace === undefined || entry.namespace === namespace) && (minConfidence === undefined || entry.confidence >= minConfidence)
        }
    const candidates = this.#nearest(vector, Math.max(MIN_CANDIDATES, limit * CANDIDATES_PER_RESULT), filter)
    const now = this.#now()
    const matches: QueryMatch[] = []
    for (const { name, similarity } of candidates) {
      const pattern = this.#store.get(name)
      if (pattern === undefined) continue
      const parts = scorePattern(similarity, pattern.confidence, pattern.lastUsedAt, now)
      matches.push({ pattern: withoutEmbedding(pattern), score: parts.score, similarity, ...(options.explain === true ? { explain: parts } : {}) })
    }
    matches.sort((a, b) => b.score - a.score || (a.pattern.name < b.pattern.name ? -1 : 1))
    const results = matches.slice(0, limit)
    for (const match of results) this.#retrievals.increment(match.pattern.name)
    return results
  }

  /** Records that applying the named patterns succeeded or failed; updates their confidence (learning.ts). */
  async recordOutcome (names: string[], success: boolean): Promise<PatternInfo[]> {
    this.#ensureOpen()
    if (!Array.isArray(names) || names.length === 0) throw new ReasoningBankError('INVALID_INPUT', 'name at least one pattern to record an outcome for')
    if (typeof success !== 'boolean') throw new ReasoningBankError('INVALID_INPUT', 'success must be true or false')
    const unique = [...new Set(names)]
    const missing = unique.filter((name) => this.#store.get(name) === undefined)
    if (missing.length > 0) throw new ReasoningBankError('UNKNOWN_PATTERN', `no pattern named ${missing.map((name) => `'${name}'`).join(', ')}`)
    const now = this.#now()
    const updated: PatternInfo[] = []
    for (const name of unique) {
      const next = applyOutcome(this.#store.get(name) as Pattern, success, now)
      await this.#store.put(next)
      updated.push(withoutEmbedding(next))
    }
    return updated
  }

  list (options: ListOptions = {}): PatternInfo[] {
    this.#ensureOpen()
    const sort = options.sort ?? 'confidence'
    if (!(sort in LIST_ORDERS)) throw new ReasoningBankError('INVALID_INPUT', `sort must be one of ${Object.keys(LIST_ORDERS).join(', ')}, got '${String(sort)}'`)
    if (options.limit !== undefined) requireLimit(options.limit)
    if (options.namespace !== undefined) this.#requireNamespace(options.namespace)
    const patterns = this.#store.all().filter((pattern) => options.namespace === undefined || pattern.namespace === options.namespace)
    return patterns.sort(LIST_ORDERS[sort]).slice(0, options.limit).map(withoutEmbedding)
  }

  stats (): BankStats {
    this.#ensureOpen()
    const patterns = this.#store.all()
    const histogram = new Array<number>(10).fill(0)
    const byNamespace = new Map<string, { patterns: number, confidence: number }>()
    const totals = { uses: 0, successes: 0, failures: 0, retrievals: this.#retrievals.total }
    for (const pattern of patterns) {
      totals.uses += pattern.uses
      totals.successes += pattern.successes
      totals.failures += pattern.failures
      histogram[Math.min(9, Math.max(0, Math.floor(pattern.confidence * 10)))]++
      const entry = byNamespace.get(pattern.namespace) ?? { patterns: 0, confidence: 0 }
      entry.patterns++
      entry.confidence += pattern.confidence
      byNamespace.set(pattern.namespace, entry)
    }
    const index = this.#index
    return {
      patterns: patterns.length,
      indexed: index?.size ?? patterns.length - this.#unindexed.size,
      unindexed: this.#unindexed.size,
      totals,
      namespaces: [...byNamespace].sort(([a], [b]) => (a < b ? -1 : 1)).map(([namespace, entry]) => ({ namespace, patterns: entry.patterns, meanConfidence: entry.confidence / entry.patterns })),
      mostRetrieved: this.#retrievals.top(MOST_RETRIEVED),
      confidenceHistogram: histogram,
      embedder: { id: this.embedder.id, dimensions: this.embedder.dimensions, semantic: this.embedder.semantic },
      index: {
        ...this.#indexState,
        origin: this.#origin,
        ...this.#kind,
        search: index !== undefined ? 'hnsw' : this.#int8Copy !== undefined ? 'exact-int8' : 'exact',
        shards: index?.shardCount ?? 0,
        capacity: index?.capacity ?? 0,
        ef: index?.ef ?? this.#ef ?? (this.#kind.kind === 'hnsw-int8' ? DEFAULT_QUANTIZED_PARAMS : DEFAULT_HNSW_PARAMS).ef
      }
    }
  }

  async forget (name: string): Promise<boolean> {
    this.#ensureOpen()
    this.#retrievals.delete(name)
    return await this.#store.delete(name)
  }

  /** Merges near-duplicates and prunes stale low-confidence patterns (consolidate.ts); dryRun only plans. */
  async consolidate (options: ConsolidationOptions & { dryRun?: boolean } = {}): Promise<ConsolidationResult> {
    this.#ensureOpen()
    if (options.threshold !== undefined && (!(options.threshold > 0) || options.threshold > 1)) {
      throw new ReasoningBankError('INVALID_INPUT', `threshold must be in (0, 1], got ${options.threshold}`)
    }
    const findSimilar = (pattern: Pattern): string[] => isIndexable(pattern, this.embedder)
      ? this.#nearest(pattern.embedding, DUPLICATE_CANDIDATES, (name) => this.#catalog.get(name)?.namespace === pattern.namespace).map((match) => match.name)
      : []
    const plan = planConsolidation(this.#store.all(), { now: this.#now(), ...options }, findSimilar)
    if (options.dryRun === true) return { ...plan, applied: false }
    for (const { name } of plan.prunes) await this.forget(name)
    for (const merge of plan.merges) {
      const keeper = this.#store.get(merge.keep)
      if (keeper === undefined) continue
      const absorbed = merge.absorb.map(({ name }) => this.#store.get(name)).filter((pattern) => pattern !== undefined)
      await this.#store.put(mergePatterns(keeper, absorbed))
      for (const pattern of absorbed) {
        this.#retrievals.transfer(pattern.name, keeper.name)
        await this.#store.delete(pattern.name)
      }
    }
    return { ...plan, applied: true }
  }

  /** Re-embeds patterns made by another embedder, so that they become searchable here; returns how many. */
  async reembed (onProgress?: (progress: { done: number, total: number }) => void): Promise<number> {
    this.#ensureOpen()
    const names = [...this.#unindexed]
    let done = 0
    for (let start = 0; start < names.length; start += EMBED_CHUNK) {
      const patterns = names.slice(start, start + EMBED_CHUNK).map((name) => this.#store.get(name)).filter((pattern) => pattern !== undefined)
      const vectors = await this.embedder.embed(patterns.map((pattern) => pattern.content))
      for (let i = 0; i < patterns.length; i++) {
        await this.#store.put({ ...(patterns[i] as Pattern), embedding: Array.from(vectors[i] as Float32Array), embedder: this.embedder.id })
      }
      done += patterns.length
      onProgress?.({ done, total: names.length })
    }
    return done
  }

  /**
   * Stops following the store and saves the index and retrieval counts for the next open. A build still
   * running is stopped and nothing of it saved: the next open builds again.
   */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe()
    this.#buildAbort.abort(new ReasoningBankError('CLOSED', 'the reasoning bank closed while its index was building'))
    await this.indexReady
    await this.#index?.save(this.#indexDir)
    await this.#retrievals.save(this.#indexDir)
  }

  /**
   * Builds the index from the store's current patterns, then applies the changes that arrived meanwhile.
   * A small store is indexed here, in chunks between which the event loop runs (float32: in one shard).
   * A large one by every core: an int8 index by native threads all inserting into one graph, a float32
   * one by worker threads, one shard each.
   */
  async #buildIndex (options: OpenOptions): Promise<IndexState> {
    const entries: NamedVector[] = this.#store.all().filter((pattern) => isIndexable(pattern, this.embedder)).map((pattern) => ({ name: pattern.name, vector: pattern.embedding }))
    const progress = ({ done, total }: { done: number, total: number }): void => {
      if (this.#indexState.state === 'building') this.#indexState = { state: 'building', done, total }
      options.onProgress?.({ done, total })
    }
    progress({ done: 0, total: entries.length })
    if (options.exactScanVectors === 'int8') this.#int8Copy = int8Copy(entries, this.embedder.dimensions)
    const shape = { dimensions: this.embedder.dimensions, embedder: this.embedder.id, params: options.hnsw }
    try {
      const threads = options.shards ?? availableParallelism()
      const signal = this.#buildAbort.signal
      const int8 = this.#kind.kind === 'hnsw-int8'
      const index: VectorIndex = entries.length < PARALLEL_BUILD_MIN
        ? await buildHere(entries, int8 ? QuantizedHnswIndex.create({ ...shape, initialCapacity: entries.length }) : ShardedHnswIndex.create({ ...shape, shards: 1, initialCapacity: entries.length }), progress, signal)
        : int8
          ? await QuantizedHnswIndex.build(entries, { ...shape, threads, onProgress: progress, signal })
          : await buildShardedIndex(entries, { ...shape, shards: threads, onProgress: progress, signal })
      if (this.#closed) return this.#indexState
      if (this.#ef !== undefined) index.ef = this.#ef
      for (const name of this.#pendingChanges) this.#indexPattern(index, name, this.#store.get(name))
      this.#pendingChanges.clear()
      this.#index = index
      this.#int8Copy = undefined
      this.#indexState = { state: 'ready' }
    } catch (error) {
      this.#indexState = { state: 'failed', reason: error instanceof Error ? error.message : String(error) }
    }
    return this.#indexState
  }

  /** The k nearest indexable patterns to `vector`: from the index once ready, by exact scan before. */
  #nearest (vector: ArrayLike<number>, k: number, filter?: (name: string) => boolean): IndexMatch[] {
    if (this.#index !== undefined) return this.#index.search(vector, k, filter)
    if (this.#int8Copy !== undefined) return this.#nearestInCopy(this.#int8Copy, vector, k, filter)
    const candidates: NamedVector[] = []
    for (const pattern of this.#store.all()) {
      if (isIndexable(pattern, this.embedder) && (filter === undefined || filter(pattern.name))) candidates.push({ name: pattern.name, vector: pattern.embedding })
    }
    return exactSearchNamed(candidates, vector, k)
  }

  /** The exact scan over the int8 copy, except names changed since it was taken: those are read from the store. */
  #nearestInCopy (copy: { names: string[], vectors: Int8Vectors }, vector: ArrayLike<number>, k: number, filter?: (name: string) => boolean): IndexMatch[] {
    const accepts = (name: string): boolean => !this.#pendingChanges.has(name) && (filter === undefined || filter(name))
    const fromCopy = copy.vectors.search(normalized(vector), k, (row) => accepts(copy.names[row] as string))
      .map(({ row, similarity }) => ({ name: copy.names[row] as string, similarity }))
    const changed: NamedVector[] = []
    for (const name of this.#pendingChanges) {
      const pattern = this.#store.get(name)
      if (pattern !== undefined && isIndexable(pattern, this.embedder) && (filter === undefined || filter(name))) changed.push({ name, vector: pattern.embedding })
    }
    return [...fromCopy, ...exactSearchNamed(changed, vector, k)].sort((a, b) => b.similarity - a.similarity).slice(0, k)
  }

  #onStoreChange (name: string, pattern: Pattern | undefined): void {
    if (pattern === undefined) {
      this.#catalog.delete(name)
      this.#unindexed.delete(name)
    } else {
      this.#catalogue(pattern)
      if (isIndexable(pattern, this.embedder)) this.#unindexed.delete(name)
      else this.#unindexed.add(name)
    }
    if (this.#index === undefined) this.#pendingChanges.add(name)
    else this.#indexPattern(this.#index, name, pattern)
  }

  #catalogue (pattern: Pattern): void {
    this.#catalog.set(pattern.name, { namespace: pattern.namespace, confidence: pattern.confidence })
  }

  #indexPattern (index: VectorIndex, name: string, pattern: Pattern | undefined): void {
    if (pattern !== undefined && isIndexable(pattern, this.embedder)) index.upsert(name, pattern.embedding)
    else index.remove(name)
  }

  async #embedOne (text: string): Promise<Float32Array> {
    const [vector] = await this.embedder.embed([text])
    if (vector === undefined) throw new Error(`embedder ${this.embedder.id} returned no vector`)
    return vector
  }

  #requireNamespace (namespace: string): void {
    for (const entry of this.#catalog.values()) if (entry.namespace === namespace) return
    const known = [...new Set([...this.#catalog.values()].map((entry) => entry.namespace))].sort()
    throw new ReasoningBankError('UNKNOWN_NAMESPACE', `unknown namespace '${namespace}'; known namespaces: ${known.length > 0 ? known.join(', ') : '(none, the bank is empty)'}`)
  }

  #ensureOpen (): void {
    if (this.#closed) throw new ReasoningBankError('CLOSED', 'the reasoning bank is closed')
  }
}

const LIST_ORDERS: Record<ListSort, (a: Pattern, b: Pattern) => number> = {
  confidence: (a, b) => b.confidence - a.confidence || byName(a, b),
  uses: (a, b) => b.uses - a.uses || byName(a, b),
  recent: (a, b) => b.lastUsedAt - a.lastUsedAt || byName(a, b)
}

function byName (a: Pattern, b: Pattern): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

/** The saved index if it holds exactly the store's vectors in this embedder's space, else why not. */
function reusable (saved: LoadedVectorIndex, embedder: Embedder, store: PatternStore): { index: VectorIndex } | { reason: string } {
  if (!saved.ok) return { reason: saved.reason }
  const { index } = saved
  if (index.embedder !== embedder.id) return { reason: `index built by embedder ${index.embedder}, bank uses ${embedder.id}` }
  if (index.dimensions !== embedder.dimensions) return { reason: `index has ${index.dimensions} dimensions, embedder ${embedder.dimensions}` }
  const current = store.all().filter((pattern) => isIndexable(pattern, embedder)).map((pattern) => [pattern.name, embeddingDigest(pattern.embedding)] as const)
  if (fingerprint(current) !== saved.fingerprint) return { reason: 'index is stale: the store changed since it was saved' }
  return { index }
}

/** The index kind asked for, or the int8 one where its addon loads and float32 with the reason where not. */
function indexKind (asked: OpenOptions['vectorIndex']): { kind: VectorIndexKind, note?: string } {
  if (asked === 'float32') return { kind: 'hnsw-float32' }
  const addon = loadQuantizedAddon()
  if (addon.ok) return { kind: 'hnsw-int8' }
  if (asked === 'int8') throw new ReasoningBankError('INDEX_UNAVAILABLE', addon.reason)
  return { kind: 'hnsw-float32', note: addon.reason }
}

/** Inserts `entries` on this thread, yielding between chunks so that progress shows and peers are served. */
async function buildHere (entries: readonly NamedVector[], index: VectorIndex, onProgress: (progress: { done: number, total: number }) => void, signal: AbortSignal): Promise<VectorIndex> {
  for (let done = 0; done < entries.length;) {
    signal.throwIfAborted()
    const end = Math.min(entries.length, done + REBUILD_CHUNK)
    for (; done < end; done++) index.upsert((entries[done] as NamedVector).name, (entries[done] as NamedVector).vector)
    onProgress({ done, total: entries.length })
    if (done < entries.length) await yieldToEventLoop()
  }
  return index
}

/** Unit-length int8 copies of `entries`, so that a dot product with a unit query is the cosine. */
function int8Copy (entries: readonly NamedVector[], dimensions: number): { names: string[], vectors: Int8Vectors } {
  const vectors = new Int8Vectors(dimensions, entries.length)
  for (const entry of entries) vectors.add(normalized(entry.vector))
  return { names: entries.map((entry) => entry.name), vectors }
}

function normalized (vector: ArrayLike<number>): Float32Array {
  return normalizeInPlace(Float32Array.from(vector))
}

/** Only vectors from this bank's embedder share its vector space. */
function isIndexable (pattern: Pattern, embedder: Embedder): boolean {
  return pattern.embedder === embedder.id && Array.isArray(pattern.embedding) && pattern.embedding.length === embedder.dimensions
}

function requireText (value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ReasoningBankError('INVALID_INPUT', `${field} must be a non-empty string`)
  return value
}

function requireLimit (limit: unknown, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new ReasoningBankError('INVALID_INPUT', `limit must be an integer from 1 to ${max}, got ${String(limit)}`)
  }
  return limit
}

function requireUnitInterval (value: unknown, field: string): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new ReasoningBankError('INVALID_INPUT', `${field} must be a number from 0 to 1, got ${String(value)}`)
}
