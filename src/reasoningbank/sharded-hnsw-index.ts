import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fingerprint } from './fingerprint.ts'
import { DEFAULT_HNSW_PARAMS, HnswIndex, type HnswIndexOptions, type HnswParams, type IndexMatch } from './hnsw-index.ts'
import type { Loaded } from './labelled-hnsw-index.ts'
import type { VectorIndex } from './vector-index.ts'

/** What `load` found: a usable sharded index, or why there is none. */
export type LoadedShardedIndex = Loaded<ShardedHnswIndex>

interface Manifest {
  format: number
  shards: number
  /** fingerprint() over the entries of every shard. */
  fingerprint: string
  /** Each shard's own fingerprint, which tells a shard left over from another save. */
  shardFingerprints: string[]
}

const MANIFEST_FORMAT = 1
const MANIFEST_FILE = 'patterns-shards.json'

/**
 * The shard a name belongs to (FNV-1a of its UTF-16 code units): fixed by the name alone, so a bulk build
 * and later upserts agree on where a name lives.
 */
export function shardOf (name: string, shards: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193)
  return (hash >>> 0) % shards
}

/**
 * Several HnswIndex shards searched together: a name lives in shard `shardOf(name)`, a search asks every
 * shard for its k best and keeps the k best of those. Sharding lets each core build one shard
 * (hnsw-shard-build.ts); a search costs one shard search per shard, each over a smaller graph.
 */
export class ShardedHnswIndex implements VectorIndex {
  readonly kind = 'hnsw-float32'
  readonly dimensions: number
  readonly embedder: string
  readonly params: Readonly<HnswParams>
  readonly #shards: HnswIndex[]

  constructor (shards: HnswIndex[]) {
    const first = shards[0]
    if (first === undefined) throw new RangeError('a sharded index needs at least one shard')
    this.dimensions = first.dimensions
    this.embedder = first.embedder
    this.params = first.params
    this.#shards = shards
  }

  static create (options: HnswIndexOptions & { shards: number }): ShardedHnswIndex {
    if (!Number.isInteger(options.shards) || options.shards < 1) throw new RangeError(`shards must be a positive integer, got ${options.shards}`)
    const perShard = Math.ceil((options.initialCapacity ?? 0) / options.shards)
    const params = { ...DEFAULT_HNSW_PARAMS, ...options.params }
    return new ShardedHnswIndex(Array.from({ length: options.shards }, () => HnswIndex.create({ ...options, params, initialCapacity: perShard })))
  }

  /** Reads an index saved by `save`: every shard must load, or the whole index is reported unusable. */
  static async load (dir: string): Promise<LoadedShardedIndex> {
    let manifest: Manifest
    try {
      manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as Manifest
    } catch (error) {
      return { ok: false, reason: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no saved index' : `unreadable shard manifest: ${String(error)}` }
    }
    if (manifest.format !== MANIFEST_FORMAT || !Number.isInteger(manifest.shards) || manifest.shards < 1) return { ok: false, reason: 'unknown shard manifest format' }
    const shards: HnswIndex[] = []
    for (let i = 0; i < manifest.shards; i++) {
      const loaded = await HnswIndex.load(shardDir(dir, i))
      if (!loaded.ok) return { ok: false, reason: `shard ${i}: ${loaded.reason}` }
      if (loaded.fingerprint !== manifest.shardFingerprints?.[i]) return { ok: false, reason: `shard ${i} is not the one the manifest lists (torn save)` }
      shards.push(loaded.index)
    }
    const index = new ShardedHnswIndex(shards)
    if (shards.some((shard) => shard.embedder !== index.embedder || shard.dimensions !== index.dimensions)) return { ok: false, reason: 'shards disagree on embedder or dimensions' }
    return { ok: true, index, fingerprint: manifest.fingerprint }
  }

  get shardCount (): number {
    return this.#shards.length
  }

  get size (): number {
    return this.#shards.reduce((sum, shard) => sum + shard.size, 0)
  }

  get capacity (): number {
    return this.#shards.reduce((sum, shard) => sum + shard.capacity, 0)
  }

  get ef (): number {
    return (this.#shards[0] as HnswIndex).ef
  }

  set ef (ef: number) {
    for (const shard of this.#shards) shard.ef = ef
  }

  has (name: string): boolean {
    return this.#shardFor(name).has(name)
  }

  * entries (): IterableIterator<[string, string]> {
    for (const shard of this.#shards) yield * shard.entries()
  }

  fingerprint (): string {
    return fingerprint(this.entries())
  }

  upsert (name: string, vector: ArrayLike<number>, digest?: string): boolean {
    return this.#shardFor(name).upsert(name, vector, digest)
  }

  remove (name: string): boolean {
    return this.#shardFor(name).remove(name)
  }

  /** The k nearest names by cosine similarity over all shards, best first, among those `filter` accepts. */
  search (query: ArrayLike<number>, k: number, filter?: (name: string) => boolean): IndexMatch[] {
    if (this.#shards.length === 1) return (this.#shards[0] as HnswIndex).search(query, k, filter)
    const matches = this.#shards.flatMap((shard) => shard.search(query, k, filter))
    return matches.sort((a, b) => b.similarity - a.similarity).slice(0, Math.max(0, Math.floor(k)))
  }

  /** Saves every shard in its own directory, then the manifest, so a torn save reads as no saved index. */
  async save (dir: string): Promise<void> {
    await mkdir(dir, { recursive: true })
    for (const [i, shard] of this.#shards.entries()) await shard.save(shardDir(dir, i))
    const manifest: Manifest = { format: MANIFEST_FORMAT, shards: this.#shards.length, fingerprint: this.fingerprint(), shardFingerprints: this.#shards.map((shard) => shard.fingerprint()) }
    const path = join(dir, MANIFEST_FILE)
    await writeFile(`${path}.tmp`, JSON.stringify(manifest))
    await rename(`${path}.tmp`, path)
  }

  #shardFor (name: string): HnswIndex {
    return this.#shards[shardOf(name, this.#shards.length)] as HnswIndex
  }
}

function shardDir (dir: string, shard: number): string {
  return join(dir, `shard-${shard}`)
}
