/**
 * Worker-thread entry that builds one shard of a sharded HNSW index (hnsw-shard-build.ts): hnswlib
 * inserts one vector at a time on the thread that calls it, so each core builds its own shard. The
 * vectors arrive in shared memory; the graph goes back as an hnswlib index file, with the vector digests
 * the main thread needs for its name map.
 */
import { parentPort, workerData } from 'node:worker_threads'
import hnswlib from 'hnswlib-node'
import { embeddingDigest } from './fingerprint.ts'
import type { ShardBuildJob, ShardBuildMessage } from './hnsw-shard-build.ts'

const PROGRESS_EVERY = 1000

const job = workerData as ShardBuildJob
const port = parentPort
if (port === null) throw new Error('hnsw-shard-worker runs only as a worker thread')
const post = (message: ShardBuildMessage): void => { port.postMessage(message) }

const cpuAtStart = process.threadCpuUsage()
const vectors = new Float32Array(job.vectors)
const { dimensions, count, params } = job
const hnsw = new hnswlib.HierarchicalNSW('cosine', dimensions)
hnsw.initIndex({ maxElements: Math.max(count, job.minCapacity), m: params.m, efConstruction: params.efConstruction, randomSeed: params.seed, allowReplaceDeleted: true })
const stop = new Int32Array(job.stop)
const stopped = (): boolean => Atomics.load(stop, 0) === 1
const digests: string[] = new Array<string>(count)
const point = new Array<number>(dimensions)
for (let label = 0; label < count && !stopped(); label++) {
  const row = vectors.subarray(label * dimensions, (label + 1) * dimensions)
  for (let i = 0; i < dimensions; i++) point[i] = row[i]
  hnsw.addPoint(point, label)
  digests[label] = embeddingDigest(row)
  if ((label + 1) % PROGRESS_EVERY === 0) post({ type: 'progress', done: label + 1 })
}
// A stopped build ends here without a 'done': the main thread rejects with its abort reason.
if (!stopped()) {
  hnsw.writeIndexSync(job.path)
  const cpu = process.threadCpuUsage(cpuAtStart)
  post({ type: 'done', digests, cpuSeconds: (cpu.user + cpu.system) / 1e6 })
}
