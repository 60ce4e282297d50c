import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
// In your own project: import { connect, startNode } from 'peerflow'
import { connect, startNode } from '../node/index.ts'

/**
 * peerflow as a library: two nodes inside this process (temp data dirs, loopback, ports picked by
 * the system) join each other; a value written through one node's typed client is read back
 * through the other's once it has replicated. Run: node examples/library-memory.ts
 */

const LOOPBACK = ['/ip4/127.0.0.1/udp/0/quic-v1']
const REPLICATION_TIMEOUT_MS = 10_000

const dirs = await Promise.all([0, 1].map(async () => mkdtemp(join(tmpdir(), 'peerflow-example-'))))
const [first, second] = await Promise.all(dirs.map(async (dataDir) =>
  startNode({ dataDir, listen: LOOPBACK, api: '127.0.0.1:0', embedder: 'hash', logLevel: 'warn' })))
try {
  const a = await connect(first.apiAddress)
  const b = await connect(second.apiAddress)
  const firstQuic = (await a.id()).addresses.find((addr) => addr.includes('/quic-v1/')) as string
  const joined = await b.peers.join(firstQuic)
  console.log(`joined ${joined.peerId} over ${joined.transport}`)

  const written = await a.memory.put('shared-knowledge', 'decision/hashing', { use: 'argon2id', why: 'memory-hard' }, { tags: ['security'] })
  console.log(`wrote shared-knowledge/${written.key} on ${first.peerId}`)

  const deadline = Date.now() + REPLICATION_TIMEOUT_MS
  let replica = await b.memory.get('shared-knowledge', 'decision/hashing')
  while (replica === undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    replica = await b.memory.get('shared-knowledge', 'decision/hashing')
  }
  if (replica === undefined) throw new Error(`not replicated to the second node within ${REPLICATION_TIMEOUT_MS} ms`)
  console.log(`read on ${second.peerId}: ${JSON.stringify(replica.value)} (author ${replica.author})`)
} finally {
  await Promise.all([first.stop(), second.stop()])
  await Promise.all(dirs.map(async (dir) => rm(dir, { recursive: true, force: true })))
}
