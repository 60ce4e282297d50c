import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { embeddingDigest, fingerprint } from './fingerprint.ts'

/** HNSW graph parameters: M links per node, efConstruction/ef candidate-list sizes when building/searching. */
export interface HnswParams {
  m: number
  efConstruction: number
  ef: number
  seed: number
}

export interface IndexMatch {
  name: string
  /** Cosine similarity to the query, in [-1, 1]. */
  similarity: number
}

/** What a labelled index needs of an HNSW graph: hnswlib-node's and the int8 addon's each get an adapter. */
export interface LabelledGraph {
  add: (label: number, vector: ArrayLike<number>, replaceDeleted: boolean) => void
  markDelete: (label: number) => void
  /** Nearest first; `distances` are cosine distances. */
  search: (query: ArrayLike<number>, k: number, filter?: (label: number) => boolean) => { labels: ArrayLike<number>, distances: ArrayLike<number> }
  /** Slots in use, mark-deleted ones included. */
  count: () => number
  capacity: () => number
  resize: (capacity: number) => void
  getEf: () => number
  setEf: (ef: number) => void
  /** Writes the graph to one file. */
  write: (path: string) => void
}

/** The index file and its JSON sidecar, in the index's directory. */
export interface IndexFiles {
  index: string
  sidecar: string
}

export interface Sidecar {
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

/** What loading found: a usable index with the fingerprint it was saved with, or why there is none. */
export type Loaded<T> = { ok: true, index: T, fingerprint: string } | { ok: false, reason: string }

const SIDECAR_FORMAT = 1
const MIN_CAPACITY = 64

/**
 * Named vectors over an HNSW graph that knows only integer labels: keeps the label ↔ name map and, per
 * name, a digest of the vector indexed, which makes re-adding an unchanged vector a no-op. A changed
 * vector gets a fresh label and its old one is mark-deleted; deleted slots are reused by later additions,
 * so updates do not grow the index. Saved as the graph's file plus a sidecar with the map.
 */
export abstract class LabelledHnswIndex {
  readonly dimensions: number
  readonly embedder: string
  readonly params: Readonly<HnswParams>
  readonly #graph: LabelledGraph
  readonly #files: IndexFiles
  readonly #byName = new Map<string, { label: number, digest: string }>()
  readonly #names = new Map<number, string>()
  #nextLabel = 0
  /** Mark-deleted slots not yet reused; they still count towards the graph's slots in use. */
  #deletedSlots = 0

  protected constructor (dimensions: number, embedder: string, params: HnswParams, graph: LabelledGraph, files: IndexFiles) {
    this.dimensions = dimensions
    this.embedder = embedder
    this.params = params
    this.#graph = graph
    this.#files = files
    graph.setEf(params.ef)
  }

  /** Number of names indexed (mark-deleted slots excluded). */
  get size (): number {
    return this.#byName.size
  }

  get capacity (): number {
    return this.#graph.capacity()
  }

  get ef (): number {
    return this.#graph.getEf()
  }

  set ef (ef: number) {
    this.#graph.setEf(ef)
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
    if (!reuseSlot && this.#graph.count() >= this.#graph.capacity()) {
      // A loaded index can report a capacity of 0 (hnswlib saves the count, not the room), so never double 0.
      this.#graph.resize(Math.max(MIN_CAPACITY, this.#graph.capacity() * 2))
    }
    const label = this.#nextLabel++
    this.#graph.add(label, vector, reuseSlot)
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
    const { labels, distances } = this.#graph.search(query, wanted, labelFilter)
    return Array.from(labels, (label, i) => ({ name: this.#names.get(label) as string, similarity: 1 - (distances[i] as number) }))
  }

  /**
   * Writes the index file, then the sidecar (label map, embedder, dimensions, fingerprint), each via a
   * temporary file and rename; the sidecar records the index file size so a torn pair is detected on load.
   */
  async save (dir: string): Promise<void> {
    await mkdir(dir, { recursive: true })
    const indexPath = join(dir, this.#files.index)
    this.#graph.write(`${indexPath}.tmp`)
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
    const sidecarPath = join(dir, this.#files.sidecar)
    await writeFile(`${sidecarPath}.tmp`, JSON.stringify(sidecar))
    await rename(`${sidecarPath}.tmp`, sidecarPath)
  }

  /** Names a graph built with labels 0..n-1 in the order of `names`; `digests` are of the vectors indexed. */
  protected adoptLabels (names: readonly string[], digests: readonly string[]): void {
    if (this.#graph.count() !== names.length || digests.length !== names.length) throw new Error(`built graph holds ${this.#graph.count()} vectors for ${names.length} names`)
    names.forEach((name, label) => {
      this.#byName.set(name, { label, digest: digests[label] as string })
      this.#names.set(label, name)
    })
    this.#nextLabel = names.length
  }

  /** Takes the label map of a loaded sidecar; false when it does not fit the graph read with it. */
  protected restoreLabels (sidecar: Sidecar): boolean {
    for (const [name, label, digest] of sidecar.entries) {
      this.#byName.set(name, { label, digest })
      this.#names.set(label, name)
    }
    this.#nextLabel = sidecar.nextLabel
    this.#deletedSlots = sidecar.deletedSlots
    return this.#graph.count() === sidecar.entries.length + sidecar.deletedSlots
  }

  #markDeleted (name: string, label: number): void {
    this.#graph.markDelete(label)
    this.#deletedSlots++
    this.#byName.delete(name)
    this.#names.delete(label)
  }

  #checkDimensions (vector: ArrayLike<number>, what: string): void {
    if (vector.length !== this.dimensions) throw new RangeError(`${what} has ${vector.length} dimensions, the index ${this.dimensions} (embedder ${this.embedder})`)
  }
}

/**
 * Reads the sidecar in `dir` and hands it with the index file's path to `open`, which reads the graph
 * and restores the labels. A missing, partial or inconsistent pair of files is reported, not thrown.
 */
export async function loadLabelled<T> (dir: string, files: IndexFiles, open: (sidecar: Sidecar, indexPath: string) => Promise<T | string>): Promise<Loaded<T>> {
  let sidecar: Sidecar
  try {
    sidecar = JSON.parse(await readFile(join(dir, files.sidecar), 'utf8')) as Sidecar
  } catch (error) {
    return { ok: false, reason: isMissing(error) ? 'no saved index' : `unreadable sidecar: ${String(error)}` }
  }
  if (sidecar.format !== SIDECAR_FORMAT) return { ok: false, reason: `sidecar format ${sidecar.format}, expected ${SIDECAR_FORMAT}` }
  const indexPath = join(dir, files.index)
  try {
    const { size } = await stat(indexPath)
    if (size !== sidecar.indexBytes) return { ok: false, reason: `index file has ${size} bytes, the sidecar says ${sidecar.indexBytes}` }
    const opened = await open(sidecar, indexPath)
    return typeof opened === 'string' ? { ok: false, reason: opened } : { ok: true, index: opened, fingerprint: sidecar.fingerprint }
  } catch (error) {
    return { ok: false, reason: isMissing(error) ? 'index file missing' : `unreadable index: ${String(error)}` }
  }
}

function isMissing (error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}
