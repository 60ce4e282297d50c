/**
 * Worker for bench:vectors that keeps one saved shard and answers searches sent by postMessage: the
 * alternative to reading the shards back into the main thread, measured against it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { HnswIndex } from '../../src/reasoningbank/hnsw-index.ts'

export interface ShardSearchRequest { id: number, query: Float32Array, k: number }
export interface ShardSearchReply { id: number, matches: Array<{ name: string, similarity: number }> }

const { dir, ef } = workerData as { dir: string, ef: number }
const port = parentPort
if (port === null) throw new Error('shard-search-worker runs only as a worker thread')
const loaded = await HnswIndex.load(dir)
if (!loaded.ok) throw new Error(`shard not loaded: ${loaded.reason}`)
const index = loaded.index
index.ef = ef
port.on('message', ({ id, query, k }: ShardSearchRequest) => {
  const reply: ShardSearchReply = { id, matches: index.search(query, k) }
  port.postMessage(reply)
})
port.postMessage('ready')
