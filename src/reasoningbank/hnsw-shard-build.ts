import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { DEFAULT_HNSW_PARAMS, HnswIndex, type HnswParams } from './hnsw-index.ts'
import { ShardedHnswIndex, shardOf } from './sharded-hnsw-index.ts'

/** What a shard-building worker is given (hnsw-shard-worker.ts). */
export interface ShardBuildJob {
  /** `count` rows of `dimensions` float32s. */
  vectors: SharedArrayBuffer
  count: number
  dimensions: number
  params: HnswParams
  /** Room allocated at least, as HnswIndex.create does, so that small shards need not grow at once. */
  minCapacity: number
  /** Where the worker writes the built hnswlib index. */
  path: string
  /**
   * One Int32 the main thread sets to 1 to stop the build. The worker checks it between inserts and ends
   * by itself: terminating a thread inside an hnswlib call aborts the whole process.
   */
  stop: SharedArrayBuffer
}

export type ShardBuildMessage =
  | { type: 'progress', done: number }
  | { type: 'done', digests: string[], cpuSeconds: number }

export interface NamedVector {
  name: string
  vector: ArrayLike<number>
}

export interface ParallelBuildOptions {
  dimensions: number
  embedder: string
  params?: Partial<HnswParams>
  /** Default: os.availableParallelism(), one shard per core. */
  shards?: number
  /** Called as the shards grow, with the vectors inserted so far over all shards. */
  onProgress?: (progress: { done: number, total: number }) => void
  /** Called as each shard is built, with the CPU time its worker spent (the build's cost on a busy machine). */
  onShardBuilt?: (shard: { index: number, vectors: number, cpuSeconds: number }) => void
  /** Aborting stops the workers (each after its current insert) and rejects with the signal's reason. */
  signal?: AbortSignal
}

const MIN_SHARD_CAPACITY = 64
/** The worker is a .ts file when running from the sources, .js in the build. */
const WORKER_URL = new URL(`./hnsw-shard-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)

/**
 * Builds a ShardedHnswIndex of `entries` with one worker thread per shard, all shards at once. The
 * calling thread only copies the vectors into shared memory and reads the finished graphs back, so it
 * stays free to serve while the build runs.
 */
export async function buildShardedIndex (entries: readonly NamedVector[], options: ParallelBuildOptions): Promise<ShardedHnswIndex> {
  const shardCount = options.shards ?? availableParallelism()
  if (!Number.isInteger(shardCount) || shardCount < 1) throw new RangeError(`shards must be a positive integer, got ${shardCount}`)
  const params = { ...DEFAULT_HNSW_PARAMS, ...options.params }
  const { dimensions } = options
  const members: NamedVector[][] = Array.from({ length: shardCount }, () => [])
  for (const entry of entries) {
    if (entry.vector.length !== dimensions) throw new RangeError(`vector for '${entry.name}' has ${entry.vector.length} dimensions, the index ${dimensions}`)
    members[shardOf(entry.name, shardCount)]?.push(entry)
  }
  options.signal?.throwIfAborted()
  // One shard failing stops the others: their graphs would be thrown away with the temporary directory.
  const stop = new AbortController()
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal])
  const stopFlag = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)
  const dir = await mkdtemp(join(tmpdir(), 'peerflow-hnsw-build-'))
  const done = new Array<number>(shardCount).fill(0)
  const report = (): void => { options.onProgress?.({ done: done.reduce((a, b) => a + b, 0), total: entries.length }) }
  try {
    // Every worker must have exited before the directory goes: one still writing its file when the first
    // failure is reported would make the removal fail (a file appearing in a directory being removed).
    const built = await Promise.allSettled(members.map(async (shard, i) => {
      const path = join(dir, `shard-${i}.hnsw`)
      const { digests, cpuSeconds } = await runWorker(shardJob(shard, dimensions, params, path, stopFlag), signal, (inserted) => { done[i] = inserted; report() })
        .catch((error: unknown) => { stop.abort(error); throw error })
      options.onShardBuilt?.({ index: i, vectors: shard.length, cpuSeconds })
      done[i] = shard.length
      report()
      return await HnswIndex.adopt(path, { dimensions, embedder: options.embedder, params }, shard.map((entry) => entry.name), digests)
    }))
    const shards: HnswIndex[] = []
    for (const outcome of built) {
      if (outcome.status === 'rejected') throw signal.aborted ? signal.reason : outcome.reason
      shards.push(outcome.value)
    }
    return new ShardedHnswIndex(shards)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function shardJob (shard: readonly NamedVector[], dimensions: number, params: HnswParams, path: string, stop: SharedArrayBuffer): ShardBuildJob {
  const vectors = new SharedArrayBuffer(shard.length * dimensions * Float32Array.BYTES_PER_ELEMENT)
  const rows = new Float32Array(vectors)
  shard.forEach((entry, row) => { rows.set(entry.vector, row * dimensions) })
  return { vectors, count: shard.length, dimensions, params, minCapacity: MIN_SHARD_CAPACITY, path, stop }
}

/** Runs one shard build; resolves with the vector digests in label order and the worker's CPU time. */
async function runWorker (job: ShardBuildJob, signal: AbortSignal | undefined, onProgress: (done: number) => void): Promise<{ digests: string[], cpuSeconds: number }> {
  return await new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: job })
    let result: { digests: string[], cpuSeconds: number } | undefined
    const onAbort = (): void => { Atomics.store(new Int32Array(job.stop), 0, 1) }
    signal?.addEventListener('abort', onAbort, { once: true })
    worker.on('message', (message: ShardBuildMessage) => {
      if (message.type === 'progress') onProgress(message.done)
      else result = { digests: message.digests, cpuSeconds: message.cpuSeconds }
    })
    worker.on('error', reject)
    worker.on('exit', (code) => {
      signal?.removeEventListener('abort', onAbort)
      if (signal?.aborted === true) reject(signal.reason)
      else if (result !== undefined) resolve(result)
      else reject(new Error(`shard build worker exited with code ${code} before finishing`))
    })
  })
}
