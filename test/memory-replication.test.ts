import crypto from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import { DEFAULT_POLICY, NamespaceDoc, NamespaceLimitError } from '../crdt/index.ts'
import type { Host } from '../node/net/host.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { SYNC_PROTOCOL } from '../protocols/ids.ts'
import { encodeMemoryGossip, memoryTopic } from '../protocols/memory-gossip.ts'
import { encodeSyncMessage, SYNC_LIMITS } from '../protocols/sync.ts'
import { TestHosts } from './helpers/hosts.ts'
import { contentOf, converged, MEMORY_TEST_CONFIG, startCluster } from './helpers/memory.ts'
import { isConnected, quicAddr, TestNetwork, waitFor } from './helpers/nodes.ts'

const net = new TestNetwork()
const hosts = new TestHosts()
afterEach(async () => {
  await hosts.cleanup()
  await net.cleanup()
})

const NS = 'shared-knowledge'

/** A well-formed update writing one entry, as a peer would gossip it. */
function entryUpdate (namespace: string, key: string, value: string, author: string): Uint8Array {
  const doc = new NamespaceDoc(namespace, DEFAULT_POLICY)
  const updates: Uint8Array[] = []
  doc.onUpdate((update) => { updates.push(update) })
  doc.put(key, value, { author, now: Date.now() })
  doc.destroy()
  return Y.mergeUpdates(updates)
}

/** A decodable Yjs update that does not follow the entry model (a plain string under a key). */
function nonEntryUpdate (): Uint8Array {
  const doc = new Y.Doc()
  doc.getMap('entries').set('intruder', 'not an entry')
  return Y.encodeStateAsUpdate(doc)
}

/** A bare libp2p host connected to `node`, admitted (the nodes run in open mode). */
async function rawPeerOf (node: PeerflowNode): Promise<Host> {
  const raw = await hosts.plain()
  await raw.dial(multiaddr(quicAddr(node)))
  await waitFor('the raw host is admitted', () => node.admission.isAdmitted(raw.peerId.toString()))
  return raw
}

/** Proves a node still replicates both ways with a well-behaved peer. */
async function stillReplicates (node: PeerflowNode, peer: PeerflowNode, tag: string): Promise<void> {
  await node.memory.put(NS, `${tag}-from-node`, 1, { author: node.peerId })
  await peer.memory.put(NS, `${tag}-from-peer`, 2, { author: peer.peerId })
  await waitFor(`'${tag}' writes replicate both ways`, () =>
    peer.memory.get(NS, `${tag}-from-node`) !== undefined && node.memory.get(NS, `${tag}-from-peer`) !== undefined)
}

describe('replicated memory across three in-process nodes', () => {
  it('converges after writes on every node', async () => {
    const nodes = await startCluster(net, 3)
    await Promise.all(nodes.map(async (node, n) => {
      for (let i = 0; i < 20; i++) await node.memory.put(NS, `n${n}-k${i}`, { n, i }, { author: node.peerId })
    }))
    await waitFor('all replicas hold 60 entries and agree', () =>
      nodes.every((node) => node.memory.list(NS).length === 60) && converged(nodes, NS))
    const expected = nodes.flatMap((_, n) => Array.from({ length: 20 }, (_, i) => [`n${n}-k${i}`, { n, i }] as [string, unknown]))
      .sort(([a], [b]) => (a < b ? -1 : 1))
    expect(contentOf(nodes[2] as PeerflowNode, NS)).toEqual(expected)
  })

  it('agrees on one value everywhere after concurrent writes to the same keys on two nodes', async () => {
    const [a, b, c] = await startCluster(net, 3) as [PeerflowNode, PeerflowNode, PeerflowNode]
    const keys = Array.from({ length: 10 }, (_, i) => `contested-${i}`)
    // Issued in the same tick, so neither node has seen the other's write when it makes its own.
    await Promise.all(keys.flatMap((key) => [
      a.memory.put(NS, key, `a:${key}`, { author: a.peerId }),
      b.memory.put(NS, key, `b:${key}`, { author: b.peerId })
    ]))
    await waitFor('the contested keys agree on all three', () =>
      keys.every((key) => [a, b, c].every((node) => node.memory.get(NS, key) !== undefined)) && converged([a, b, c], NS))
    for (const key of keys) expect([`a:${key}`, `b:${key}`]).toContain(c.memory.get(NS, key)?.value)
  })

  it('creates a namespace written on A on B and C, and keeps gossiping into it', async () => {
    const [a, b, c] = await startCluster(net, 3) as [PeerflowNode, PeerflowNode, PeerflowNode]
    const fresh = 'fresh-ns.v1'
    expect(b.memory.namespaces().map((info) => info.name)).not.toContain(fresh)
    await a.memory.put(fresh, 'first', 'hello', { author: a.peerId })
    await waitFor('B and C learn the namespace', () =>
      [b, c].every((node) => node.memory.get(fresh, 'first')?.value === 'hello'))
    expect(c.memory.namespaces().map((info) => info.name)).toContain(fresh)
    // They now subscribe to its topic, so later writes need no catch-up round.
    await waitFor('B and C subscribe to the new topic', () =>
      [b, c].every((node) => node.host.services.pubsub.getTopics().includes(memoryTopic(fresh))))
    await b.memory.put(fresh, 'second', 'from B', { author: b.peerId })
    await waitFor('a write on B reaches A and C', () =>
      [a, c].every((node) => node.memory.get(fresh, 'second')?.value === 'from B'))
  })

  it('delivers a burst of writes into a brand-new namespace without waiting for anti-entropy', async () => {
    const nodes = await startCluster(net, 3)
    const [a] = nodes as [PeerflowNode]
    const count = 5_000
    // Writes keep coming while B and C learn the namespace by catch-up and subscribe to its topic:
    // none may fall between the two, or it (and every later write of A) waits for the 15 s round.
    let next = 0
    await Promise.all(Array.from({ length: 128 }, async () => {
      while (next < count) {
        const i = next++
        await a.memory.put('burst', `k${i}`, i, { author: a.peerId })
      }
    }))
    await waitFor('every node holds the whole burst', () =>
      nodes.every((node) => node.memory.namespaces().find((info) => info.name === 'burst')?.entries === count), 10_000)
    expect(converged(nodes, 'burst')).toBe(true)
  })

  it('sends a stream of writes one at a time as fewer, larger messages, and a lone write at once', async () => {
    const nodes = await startCluster(net, 3)
    const [a, b] = nodes as [PeerflowNode, PeerflowNode]
    await a.memory.put(NS, 'first', 0, { author: a.peerId })
    await waitFor('the namespace reaches every node', () => nodes.every((node) => node.memory.get(NS, 'first') !== undefined))
    const before = a.replication.stats.gossipSent
    const count = 300
    for (let i = 0; i < count; i++) await a.memory.put(NS, `one-by-one-${i}`, i, { author: a.peerId })
    await waitFor('every node holds the stream', () => nodes.every((node) => node.memory.get(NS, `one-by-one-${count - 1}`) !== undefined), 10_000)
    expect(converged(nodes, NS)).toBe(true)
    // Each awaited put is on disk before the next starts: without the busy window, a message each.
    expect(a.replication.stats.gossipSent - before).toBeLessThan(count / 2)

    // After a pause, one write goes out within the short window, not the busy one.
    await new Promise((resolve) => setTimeout(resolve, 100))
    const seen = new Promise<number>((resolve) => {
      const unsubscribe = b.memory.onUpdate((namespace) => {
        if (namespace !== NS || b.memory.get(NS, 'lone') === undefined) return
        unsubscribe()
        resolve(performance.now())
      })
    })
    const written = await a.memory.put(NS, 'lone', true, { author: a.peerId }).then(() => performance.now())
    expect(await seen - written).toBeLessThan(500)
  })

  it('takes a write relayed from an author it is not connected to, by gossip, rejecting nothing', async () => {
    // A line A - B - C: A and C hold one connection each (peer exchange dials no more), B relays.
    const [a, b, c] = await Promise.all([
      net.start({ ...MEMORY_TEST_CONFIG, maxConnections: 1 }),
      net.start(MEMORY_TEST_CONFIG),
      net.start({ ...MEMORY_TEST_CONFIG, maxConnections: 1 })
    ])
    const never = new AbortController().signal
    await a.join(multiaddr(quicAddr(b)), never)
    await c.join(multiaddr(quicAddr(b)), never)
    await waitFor('B relays between A and C on the topic', () =>
      [a, c].every((node) => node.host.services.pubsub.getSubscribers(memoryTopic(NS)).some((peer) => peer.toString() === b.peerId)) &&
      b.host.services.pubsub.getSubscribers(memoryTopic(NS)).length === 2)
    const before = { ...c.replication.stats }
    await a.memory.put(NS, 'far', 'from A', { author: a.peerId })
    // Well inside the 15 s anti-entropy round: only gossip can have brought it.
    await waitFor('the write reaches C', () => c.memory.get(NS, 'far')?.value === 'from A', 5_000)
    expect(isConnected(a, c)).toBe(false)
    expect(c.replication.stats.gossipRejected).toBe(before.gossipRejected)
    expect(c.replication.stats.gossipReceived).toBeGreaterThan(before.gossipReceived)
  })

  it('checks the signature of a gossiped write once per node, not once per copy the mesh delivers', async () => {
    const nodes = await startCluster(net, 4)
    const [a] = nodes as [PeerflowNode]
    await a.memory.put(NS, 'first', 0, { author: a.peerId })
    await waitFor('the namespace reaches every node', () => nodes.every((node) => node.memory.get(NS, 'first') !== undefined))
    await waitFor('every node sees the other three on the topic', () =>
      nodes.every((node) => node.host.services.pubsub.getSubscribers(memoryTopic(NS)).length === 3), 10_000)
    // A gossipsub heartbeat: the meshes are full.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    // Every ed25519 check of the in-process nodes goes through node:crypto's verify.
    const verify = vi.spyOn(crypto, 'verify')
    const writes = 10
    for (let i = 0; i < writes; i++) {
      await a.memory.put(NS, `checked-${i}`, i, { author: a.peerId })
      await waitFor(`write ${i} reaches every node`, () => nodes.every((node) => node.memory.get(NS, `checked-${i}`) !== undefined))
    }
    const checks = verify.mock.calls.length
    verify.mockRestore()
    // Each of the 3 receivers gets every message from A and from the 2 other relays; one check
    // each is 30 (plus some background), one per copy would be about 90.
    expect(checks).toBeGreaterThanOrEqual(writes * 3)
    expect(checks).toBeLessThan(writes * 3 * 1.5)
  })

  it('replicates a deletion', async () => {
    const [a, b, c] = await startCluster(net, 3) as [PeerflowNode, PeerflowNode, PeerflowNode]
    await a.memory.put(NS, 'doomed', 'here', { author: a.peerId })
    await a.memory.put(NS, 'kept', 'stays', { author: a.peerId })
    await waitFor('the entries reach C', () => c.memory.get(NS, 'doomed') !== undefined && c.memory.get(NS, 'kept') !== undefined)
    expect(await b.memory.delete(NS, 'doomed')).toBe(true)
    await waitFor('the deletion reaches A and C', () => [a, b, c].every((node) => node.memory.get(NS, 'doomed') === undefined))
    expect([a, b, c].map((node) => contentOf(node, NS))).toEqual(Array(3).fill([['kept', 'stays']]))
  })

  it('hides an expired entry on every node, and the periodic sweep removes it everywhere', async () => {
    const nodes = await startCluster(net, 3, { sweepIntervalMs: 1_000 })
    const [a] = nodes as [PeerflowNode]
    const ns = 'short-lived'
    await a.memory.put(ns, 'permanent', 'stays', { author: a.peerId })
    await a.memory.put(ns, 'ephemeral', 'soon gone', { author: a.peerId, ttlMs: 400 })
    await waitFor('both entries replicate', () => nodes.every((node) => node.memory.namespaces().find((info) => info.name === ns)?.entries === 2))
    await waitFor('the entry expires everywhere', () => nodes.every((node) => node.memory.get(ns, 'ephemeral') === undefined), 5_000)
    for (const node of nodes) expect(contentOf(node, ns)).toEqual([['permanent', 'stays']])
    // Expired entries are still stored until a sweep deletes them (and the deletion replicates).
    await waitFor('the sweep removes the stored entry on every node', () =>
      nodes.every((node) => node.memory.namespaces().find((info) => info.name === ns)?.entries === 1), 5_000)
    expect(await a.memory.sweep()).toBe(0)
  })

  it('refuses a write past a namespace limit with a clear error and changes nothing', async () => {
    const nodes = await startCluster(net, 3, { namespaces: { tiny: { maxEntries: 2, maxValueBytes: 64 } } })
    const [a, b, c] = nodes as [PeerflowNode, PeerflowNode, PeerflowNode]
    await a.memory.put('tiny', 'one', 1, { author: a.peerId })
    await a.memory.put('tiny', 'two', 2, { author: a.peerId })
    await waitFor('the two entries replicate', () => [b, c].every((node) => node.memory.list('tiny').length === 2))
    const before = a.memory.stateVector('tiny')

    const full = a.memory.put('tiny', 'three', 3, { author: a.peerId })
    await expect(full).rejects.toThrow(NamespaceLimitError)
    await expect(full).rejects.toThrow(/namespace "tiny": entry 3 exceeds maxEntries \(2\)/)
    const tooLarge = a.memory.put('tiny', 'two', 'x'.repeat(100), { author: a.peerId })
    await expect(tooLarge).rejects.toThrow(/namespace "tiny": a value of 102 bytes exceeds maxValueBytes \(64\)/)

    expect(a.memory.stateVector('tiny')).toEqual(before)
    expect(a.memory.get('tiny', 'two')?.value).toBe(2)
    // Overwriting an existing key is still allowed at the limit.
    await a.memory.put('tiny', 'two', 22, { author: a.peerId })
    await waitFor('the overwrite replicates', () => [b, c].every((node) => node.memory.get('tiny', 'two')?.value === 22))
    for (const node of nodes) expect(contentOf(node, 'tiny')).toEqual([['one', 1], ['two', 22]])
  })

  it('rejects malformed gossip from a raw libp2p peer and keeps working', async () => {
    const [a, b] = await startCluster(net, 2) as [PeerflowNode, PeerflowNode]
    const raw = await rawPeerOf(a)
    const topic = memoryTopic(NS)
    raw.services.pubsub.subscribe(topic)
    await waitFor('the raw host knows A subscribes to the topic', () =>
      raw.services.pubsub.getSubscribers(topic).some((peer) => peer.toString() === a.peerId))
    const rawId = raw.peerId.toString()
    const before = contentOf(a, NS)

    const malformed: Array<[string, Uint8Array]> = [
      ['bytes that are no gossip message', Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3])],
      ['an unsupported version', encodeMemoryGossip({ namespace: NS, update: entryUpdate(NS, 'v', 'x', rawId) }).map((byte, i) => i === 0 ? 9 : byte)],
      ['a namespace that is not the topic\'s', encodeMemoryGossip({ namespace: 'task-queue', update: entryUpdate('task-queue', 'smuggled', 'x', rawId) })],
      ['trailing bytes', Uint8Array.from([...encodeMemoryGossip({ namespace: NS, update: entryUpdate(NS, 'trailing', 'x', rawId) }), 0])],
      ['an update that does not decode', encodeMemoryGossip({ namespace: NS, update: Uint8Array.from([0xff, 0xff, 0xff, 0x0f, 5, 5]) })],
      ['a decodable update outside the entry model', encodeMemoryGossip({ namespace: NS, update: nonEntryUpdate() })]
    ]
    for (const [what, data] of malformed) {
      const rejected = a.replication.stats.gossipRejected
      await raw.services.pubsub.publish(topic, data)
      await waitFor(`A rejects ${what}`, () => a.replication.stats.gossipRejected > rejected, 5_000)
    }

    expect(contentOf(a, NS)).toEqual(before)
    expect(a.memory.list('task-queue')).toEqual([])
    // The control: the same peer's well-formed update is accepted, so the rejections were about content.
    const rejected = a.replication.stats.gossipRejected
    await raw.services.pubsub.publish(topic, encodeMemoryGossip({ namespace: NS, update: entryUpdate(NS, 'from-raw', 'fine', rawId) }))
    await waitFor('A applies a well-formed update from the raw host', () => a.memory.get(NS, 'from-raw')?.value === 'fine', 5_000)
    expect(a.replication.stats.gossipRejected).toBe(rejected)
    await stillReplicates(a, b, 'after-gossip')
    expect(contentOf(b, NS).map(([key]) => key)).not.toContain('intruder')
  })

  it('aborts a catch-up stream that sends garbage frames and keeps working', async () => {
    const [a, b] = await startCluster(net, 2) as [PeerflowNode, PeerflowNode]
    await a.memory.put(NS, 'existing', 'value', { author: a.peerId })
    const raw = await rawPeerOf(a)
    const before = contentOf(a, NS)

    /**
     * Opens a sync stream, sends `frames` and reads until A ends it. A ends an exchange normally only
     * after both sides sent `done`, which these never do: any end within the deadline is an abort
     * (over QUIC, a reset reads as an unexpected end of stream).
     */
    const endedByA = async (frames: Uint8Array[], rawPrefix?: Uint8Array, waitMs = 5_000): Promise<boolean> => {
      const stream = await raw.dialProtocol(a.host.peerId, SYNC_PROTOCOL)
      const lp = lpStream(stream, { maxDataLength: SYNC_LIMITS.maxFrameBytes })
      if (rawPrefix !== undefined) stream.send(rawPrefix)
      for (const frame of frames) await lp.write(frame)
      const deadline = AbortSignal.timeout(waitMs)
      try {
        for (;;) await lp.read({ signal: deadline })
      } catch (err) {
        return !deadline.aborted
      }
    }

    const hello = encodeSyncMessage({ type: 'hello', stateVectors: new Map() })
    // The control: a well-behaved start keeps the exchange open, waiting for our updates and done.
    expect(await endedByA([hello], undefined, 1_000)).toBe(false)
    // A frame of an unknown message type instead of hello.
    expect(await endedByA([Uint8Array.from([7, 1, 2])])).toBe(true)
    // A hello whose namespace name is invalid.
    expect(await endedByA([Uint8Array.from([0, 1, 3, 0x41, 0x2f, 0x2e, 0])])).toBe(true)
    // A length prefix announcing a 16 MiB frame: refused before anything is buffered.
    expect(await endedByA([], Uint8Array.from([0x80, 0x80, 0x80, 0x08]))).toBe(true)
    // A proper hello, then an update that does not decode.
    expect(await endedByA([hello, encodeSyncMessage({ type: 'update', namespace: NS, update: Uint8Array.from([0xff, 0xff, 0x0f, 9]) })])).toBe(true)
    // A proper hello, then an update outside the entry model.
    expect(await endedByA([hello, encodeSyncMessage({ type: 'update', namespace: NS, update: nonEntryUpdate() })])).toBe(true)
    // A second hello where updates belong.
    expect(await endedByA([hello, hello])).toBe(true)

    expect(contentOf(a, NS)).toEqual(before)
    await stillReplicates(a, b, 'after-sync-garbage')
    const rounds = a.replication.stats.syncRounds
    await a.replication.catchUp.syncWith(b.host.peerId)
    expect(a.replication.stats.syncRounds).toBe(rounds + 1)
  })
})
