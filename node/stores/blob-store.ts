import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { PeerflowError } from '../../crdt/index.ts'
import { SHA256_HEX } from '../../protocols/blob.ts'

/**
 * Content-addressed files in the data dir: `blobs/<sha256>`, written whole (to `tmp/`, then renamed)
 * or grown piece by piece in `partial/` while a transfer runs, and checked against their hash
 * before they count. A quota bounds what the store holds; when a new file would pass it, blobs no
 * live task refers to are removed first (and again on a timer).
 */

export interface BlobStoreOptions {
  dir: string
  quotaBytes: number
  /** Hashes that live task records refer to: never collected. */
  liveHashes: () => ReadonlySet<string>
  /** A blob younger than this is kept even when nothing refers to it yet (a file uploaded for a task about to be submitted). */
  graceMs: number
}

export interface StoredBlob {
  sha256: string
  size: number
}

export interface BlobUsage {
  bytes: number
  blobs: number
  quotaBytes: number
}

/** A partial blob being written by a transfer: bytes appended at `offset`. */
export interface PartialBlob {
  readonly offset: number
  write: (chunk: Uint8Array) => Promise<void>
  close: () => Promise<void>
}

export class BlobStore {
  readonly #options: BlobStoreOptions
  readonly #blobs = new Map<string, { size: number, addedAt: number }>()
  /** Bytes set aside for files being written (imports and transfers), by a key of the writer. */
  readonly #reserved = new Map<string, number>()

  private constructor (options: BlobStoreOptions) {
    this.#options = options
  }

  static async open (options: BlobStoreOptions): Promise<BlobStore> {
    const store = new BlobStore(options)
    await mkdir(join(options.dir, 'partial'), { recursive: true })
    await rm(join(options.dir, 'tmp'), { recursive: true, force: true })
    await mkdir(join(options.dir, 'tmp'), { recursive: true })
    for (const name of await readdir(options.dir)) {
      if (!SHA256_HEX.test(name)) continue
      const info = await stat(join(options.dir, name))
      store.#blobs.set(name, { size: info.size, addedAt: info.mtimeMs })
    }
    return store
  }

  usage (): BlobUsage {
    let bytes = 0
    for (const blob of this.#blobs.values()) bytes += blob.size
    for (const reserved of this.#reserved.values()) bytes += reserved
    return { bytes, blobs: this.#blobs.size, quotaBytes: this.#options.quotaBytes }
  }

  has (sha256: string): boolean {
    return this.#blobs.has(sha256)
  }

  size (sha256: string): number | undefined {
    return this.#blobs.get(sha256)?.size
  }

  path (sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new PeerflowError('invalid', `not a SHA-256: '${sha256.slice(0, 80)}'`)
    return join(this.#options.dir, sha256)
  }

  /** Bytes [start, end) of a stored blob. */
  read (sha256: string, start: number, end: number, highWaterMark = 64 * 1024): Readable {
    if (!this.has(sha256)) throw new PeerflowError('not-found', `no blob ${sha256} here`)
    return createReadStream(this.path(sha256), { start, end: end - 1, highWaterMark })
  }

  /** Stores whatever `source` yields, up to `maxBytes`; the hash is computed on the way in. */
  async importStream (source: Readable | AsyncIterable<Uint8Array>, maxBytes: number): Promise<StoredBlob> {
    const key = `import-${randomBytes(8).toString('hex')}`
    const tmp = join(this.#options.dir, 'tmp', key)
    const hash = createHash('sha256')
    let size = 0
    try {
      const self = this
      await pipeline(source, async function * (chunks: AsyncIterable<Uint8Array>) {
        for await (const chunk of chunks) {
          size += chunk.byteLength
          if (size > maxBytes) throw new PeerflowError('too-large', `file larger than ${maxBytes} bytes`)
          await self.#reserve(key, size)
          hash.update(chunk)
          yield chunk
        }
      }, createWriteStream(tmp))
      const sha256 = hash.digest('hex')
      await this.#admit(tmp, sha256, size)
      return { sha256, size }
    } finally {
      this.#reserved.delete(key)
      await rm(tmp, { force: true })
    }
  }

  async importFile (path: string, maxBytes: number): Promise<StoredBlob> {
    return await this.importStream(createReadStream(path), maxBytes)
  }

  /**
   * Opens (or resumes) the partial copy of a blob of `size` bytes: its space is reserved against
   * the quota until `complete` or `discard`.
   */
  async openPartial (sha256: string, size: number): Promise<PartialBlob> {
    const path = join(this.#options.dir, 'partial', sha256)
    await this.#reserve(`partial-${sha256}`, size)
    const offset = await stat(path).then((info) => info.size, () => 0)
    if (offset > size) {
      await rm(path, { force: true })
      return await this.openPartial(sha256, size)
    }
    // A deep buffer, so the network is read while earlier chunks are still going to disk.
    const out: WriteStream = createWriteStream(path, { flags: 'a', highWaterMark: 4 * 1024 * 1024 })
    let written = offset
    return {
      offset,
      write: async (chunk) => {
        written += chunk.byteLength
        if (written > size) throw new PeerflowError('too-large', `more bytes than the ${size} announced for ${sha256}`)
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => { resolve() }))
      },
      close: async () => { await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => { if (err) reject(err); else resolve() })) }
    }
  }

  /** Checks a finished partial copy against its name: kept when it matches, thrown away when not. */
  async completePartial (sha256: string): Promise<StoredBlob> {
    const path = join(this.#options.dir, 'partial', sha256)
    try {
      const hash = createHash('sha256')
      let size = 0
      for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
        hash.update(chunk as Buffer)
        size += (chunk as Buffer).byteLength
      }
      const actual = hash.digest('hex')
      if (actual !== sha256) {
        await rm(path, { force: true })
        throw new PeerflowError('conflict', `the bytes received hash to ${actual}, not ${sha256}: refused`)
      }
      await this.#admit(path, sha256, size)
      return { sha256, size }
    } finally {
      this.#reserved.delete(`partial-${sha256}`)
    }
  }

  async discardPartial (sha256: string): Promise<void> {
    this.#reserved.delete(`partial-${sha256}`)
    await rm(join(this.#options.dir, 'partial', sha256), { force: true })
  }

  /** Removes every blob (and stale partial copy) no live task refers to, past the grace period. */
  async collect (): Promise<{ removed: number, freedBytes: number }> {
    const live = this.#options.liveHashes()
    const cutoff = Date.now() - this.#options.graceMs
    let removed = 0
    let freedBytes = 0
    for (const [sha256, blob] of [...this.#blobs]) {
      if (live.has(sha256) || blob.addedAt > cutoff) continue
      this.#blobs.delete(sha256)
      await rm(this.path(sha256), { force: true })
      removed++
      freedBytes += blob.size
    }
    for (const name of await readdir(join(this.#options.dir, 'partial'))) {
      if (this.#reserved.has(`partial-${name}`) || live.has(name)) continue
      await rm(join(this.#options.dir, 'partial', name), { force: true })
    }
    return { removed, freedBytes }
  }

  async #admit (file: string, sha256: string, size: number): Promise<void> {
    if (this.#blobs.has(sha256)) return
    await rename(file, this.path(sha256))
    this.#blobs.set(sha256, { size, addedAt: Date.now() })
  }

  /** Sets `key`'s reservation to `bytes`, collecting garbage first if that would pass the quota. */
  async #reserve (key: string, bytes: number): Promise<void> {
    const before = this.#reserved.get(key) ?? 0
    this.#reserved.set(key, bytes)
    if (this.usage().bytes <= this.#options.quotaBytes) return
    await this.collect()
    const { bytes: used } = this.usage()
    if (used <= this.#options.quotaBytes) return
    if (before === 0) this.#reserved.delete(key)
    else this.#reserved.set(key, before)
    throw new PeerflowError('too-large', `the blob store is full: ${used - bytes + before} of ${this.#options.quotaBytes} bytes used by files live tasks refer to, ${bytes} more needed`)
  }
}

