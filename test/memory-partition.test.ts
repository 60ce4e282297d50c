import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { SYNC_PROTOCOL } from '../protocols/ids.ts'
import { decodeSyncMessage, encodeSyncMessage, SYNC_LIMITS } from '../protocols/sync.ts'
import { TestHosts } from './helpers/hosts.ts'
import { connectAll, contentOf, converged, MEMORY_TEST_CONFIG, startCluster, writeMany } from './helpers/memory.ts'
import { isConnected, quicAddr, TestNetwork, waitFor } from './helpers/nodes.ts'

const net = new TestNetwork()
const hosts = new TestHosts()
afterEach(async () => {
  await hosts.cleanup()
  await net.cleanup()
})

const NS = 'shared-knowledge'
const never = new AbortController().signal

async function writeKeys (node: PeerflowNode, namespace: string, keys: string[], value: (key: string) => unknown): Promise<void> {
  await Promise.all(keys.map(async (key) => { await node.memory.put(namespace, key, value(key) as never, { author: node.peerId }) }))
}

const keys = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}-${i}`)

describe('replicated memory across partitions and restarts', () => {
  it('converges without losing a write after a partition {A,B} | {C} heals', async () => {
    const [a, b, c] = await startCluster(net, 3) as [PeerflowNode, PeerflowNode, PeerflowNode]
    await a.memory.put(NS, 'before', 'shared by all', { author: a.peerId })
    await a.memory.put(NS, 'deleted-by-c', 'soon gone', { author: a.peerId })
    await waitFor('the first writes reach C', () => c.memory.get(NS, 'deleted-by-c') !== undefined)

    await Promise.all([a.block(c.peerId), b.block(c.peerId), c.block(a.peerId), c.block(b.peerId)])
    await waitFor('C is cut off from A and B', () => !isConnected(a, c) && !isConnected(b, c) && !isConnected(c, a) && !isConnected(c, b))

    await Promise.all([
      writeKeys(a, NS, keys('a', 40), (key) => `A wrote ${key}`),
      writeKeys(b, NS, keys('b', 40), (key) => `B wrote ${key}`),
      writeKeys(c, NS, keys('c', 40), (key) => `C wrote ${key}`),
      // The same keys on both sides of the partition: one value must win everywhere.
      writeKeys(a, NS, keys('both', 5), (key) => `A's ${key}`),
      writeKeys(c, NS, keys('both', 5), (key) => `C's ${key}`),
      c.memory.delete(NS, 'deleted-by-c'),
      c.memory.put('made-in-partition', 'only', 'C had it', { author: c.peerId })
    ])
    await waitFor('A and B converge on their side', () => converged([a, b], NS) && b.memory.get(NS, 'a-39') !== undefined)
    expect(c.memory.get(NS, 'a-0')).toBeUndefined()
    expect(a.memory.get(NS, 'c-0')).toBeUndefined()
    expect(a.memory.get(NS, 'deleted-by-c')).toBeDefined()

    for (const node of [a, b]) node.unblock(c.peerId)
    for (const peer of [a, b]) c.unblock(peer.peerId)
    await c.join(multiaddr(quicAddr(a)), never)

    const expectedKeys = ['before', ...keys('a', 40), ...keys('b', 40), ...keys('c', 40), ...keys('both', 5)].sort()
    await waitFor('all three hold every write and agree', () =>
      [a, b, c].every((node) => JSON.stringify(node.memory.list(NS).map((entry) => entry.key)) === JSON.stringify(expectedKeys)) &&
      converged([a, b, c], NS), 20_000)
    await waitFor('the namespace created in the partition reaches A and B', () =>
      [a, b].every((node) => node.memory.get('made-in-partition', 'only')?.value === 'C had it'))
    for (const key of keys('c', 40)) expect(b.memory.get(NS, key)?.value).toBe(`C wrote ${key}`)
    for (const key of keys('both', 5)) expect([`A's ${key}`, `C's ${key}`]).toContain(b.memory.get(NS, key)?.value)
  })

  it('catches up a node that missed far more data than a stream buffers', async () => {
    // 12 MiB: libp2p aborts a stream holding over 4 MiB unread, and QUIC does not slow the sender
    // down while the receiver applies, so the receiver must keep reading while it applies.
    const cDir = await net.dataDir()
    const a = await net.start(MEMORY_TEST_CONFIG)
    let c = await net.start(MEMORY_TEST_CONFIG, cDir)
    await connectAll([a, c])
    await c.stop()
    const large = 'x'.repeat(60_000)
    for (let start = 0; start < 200; start += 50) {
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        await a.memory.put('large', `v${start + i}`, `${start + i}:${large}`, { author: a.peerId })
      }))
    }
    c = await net.start(MEMORY_TEST_CONFIG, cDir)
    await c.join(multiaddr(quicAddr(a)), never)
    // Well before the next anti-entropy round (15 s) could finish an aborted exchange.
    await waitFor('C catches up on 12 MiB in one exchange', () => c.memory.list('large').length === 200, 12_000)
    expect(contentOf(c, 'large')).toEqual(contentOf(a, 'large'))
  })

  it('catches up a node that was stopped during 10k writes, in bounded frames', async () => {
    const count = 10_000
    const cDir = await net.dataDir()
    const [a, b] = await Promise.all([net.start(MEMORY_TEST_CONFIG), net.start(MEMORY_TEST_CONFIG)])
    let c = await net.start(MEMORY_TEST_CONFIG, cDir)
    await connectAll([a, b, c])
    await a.memory.put('bulk', 'before-stop', 'kept on disk', { author: a.peerId })
    await waitFor('C has the first entry', () => c.memory.get('bulk', 'before-stop') !== undefined)
    await c.stop()

    // Big store batches: their updates go out merged, and every gossip message must stay within
    // what a receiving store accepts (else B would wait for the next anti-entropy round).
    await writeMany(a, 'bulk', 'k', count, 5_000)
    await waitFor('B, online all along, has every write', () => b.memory.list('bulk').length === count + 1, 10_000)
    expect(b.replication.stats.gossipRejected).toBe(0)

    c = await net.start(MEMORY_TEST_CONFIG, cDir)
    expect(c.memory.list('bulk').map((entry) => entry.key)).toEqual(['before-stop'])
    await c.join(multiaddr(quicAddr(a)), never)
    await waitFor('C catches up on all 10k writes', () => c.memory.list('bulk').length === count + 1, 30_000)
    await waitFor('C completes a catch-up round', () => c.replication.stats.syncRounds > 0)
    expect(contentOf(c, 'bulk')).toEqual(contentOf(a, 'bulk'))
    // Catch-up carried it (C had no gossip while it was down; it already held one entry), once:
    // only the dialler starts an exchange, and an answer waits for the node's own exchange.
    const fullState = [...a.memory.missingUpdates('bulk', Y.encodeStateVector(new Y.Doc()))].reduce((sum, update) => sum + update.byteLength, 0)
    expect(c.replication.stats.syncBytesReceived).toBeGreaterThan(0.9 * fullState)
    expect(c.replication.stats.syncBytesReceived).toBeLessThan(1.5 * fullState)

    // What A sends a replica that has nothing, frame by frame, as a peer sees it on the wire.
    const raw = await hosts.plain()
    await raw.dial(multiaddr(quicAddr(a)))
    await waitFor('the raw host is admitted', () => a.admission.isAdmitted(raw.peerId.toString()))
    const stream = await raw.dialProtocol(a.host.peerId, SYNC_PROTOCOL)
    // Read with a cap far above the protocol's, so an oversized frame is measured rather than refused.
    const lp = lpStream(stream, { maxDataLength: 16 * SYNC_LIMITS.maxFrameBytes })
    await lp.write(encodeSyncMessage({ type: 'hello', stateVectors: new Map() }))
    const frameSizes: number[] = []
    const bulk = new Y.Doc()
    for (;;) {
      const frame = (await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray()
      frameSizes.push(frame.byteLength)
      const message = decodeSyncMessage(frame)
      if (message.type === 'done') break
      if (message.type === 'update') {
        expect(message.update.byteLength).toBeLessThanOrEqual(SYNC_LIMITS.maxUpdateChunkBytes)
        if (message.namespace === 'bulk') Y.applyUpdate(bulk, message.update)
      }
    }
    await lp.write(encodeSyncMessage({ type: 'done' }))
    await stream.close()
    expect(Math.max(...frameSizes)).toBeLessThanOrEqual(SYNC_LIMITS.maxFrameBytes)
    expect(frameSizes.length).toBeGreaterThan(3)
    expect(bulk.getMap('entries').size).toBe(count + 1)
  })
})
