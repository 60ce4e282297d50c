import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as Y from 'yjs'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import type { Message } from '@libp2p/gossipsub'
import type { Host } from '../node/net/host.ts'
import { KNOWN_PEERS_FILE } from '../node/net/known-peers.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { encodeJson, ProtocolError } from '../protocols/framing.ts'
import { PEER_EXCHANGE_PROTOCOL, RAFT_PROTOCOL, SWARM_PROTOCOL, SYNC_PROTOCOL } from '../protocols/ids.ts'
import { decodeMemoryGossip, memoryTopic } from '../protocols/memory-gossip.ts'
import { encodeSyncMessage } from '../protocols/sync.ts'
import { TestHosts } from './helpers/hosts.ts'
import { isConnected, quicAddr, TestNetwork, waitFor } from './helpers/nodes.ts'
import { entryUpdate, gossipPayload, probeStream, secretFileIn, type ProbeResult } from './helpers/security.ts'

const net = new TestNetwork()
const hosts = new TestHosts()
afterEach(async () => {
  await hosts.cleanup()
  await net.cleanup()
})

const NAMESPACE = 'shared-knowledge'
const TOPIC = memoryTopic(NAMESPACE)
const never = new AbortController().signal
/** The handshake timeout nodes use (AUTH_LIMITS.readTimeoutMs), plus slack for a loaded machine. */
const REFUSAL_WITHIN_MS = 9_000

/** Two nodes sharing a secret, joined: the network an attacker tries to get into. */
async function admittedPair (): Promise<{ a: PeerflowNode, b: PeerflowNode, secret: Uint8Array }> {
  const { path, secret } = await secretFileIn(net)
  const a = await net.start({ embedder: 'hash', networkSecretFile: path })
  const b = await net.start({ embedder: 'hash', networkSecretFile: path })
  await b.join(multiaddr(quicAddr(a)), never)
  await waitFor('A admitted B', () => a.admission.isAdmitted(b.peerId) && b.admission.isAdmitted(a.peerId))
  return { a, b, secret }
}

async function visibleWithin (node: PeerflowNode, key: string, value: string, timeoutMs: number): Promise<void> {
  await waitFor(`${key} visible on ${node.peerId.slice(-6)}`, () => node.memory.get(NAMESPACE, key)?.value === value, timeoutMs)
}

/** Opens `protocol` on `node` from `outsider` and sends `request`; a refused dial counts as an empty answer. */
async function probe (outsider: Host, node: PeerflowNode, protocol: string, request: Uint8Array[]): Promise<ProbeResult> {
  let stream
  try {
    stream = await outsider.dialProtocol(node.host.peerId, protocol, { signal: AbortSignal.timeout(3_000) })
  } catch (err) {
    return { frames: [], error: err as Error, timedOut: false }
  }
  return probeStream(stream, request, REFUSAL_WITHIN_MS + 2_000)
}

const hello = encodeSyncMessage({ type: 'hello', stateVectors: new Map([[NAMESPACE, Y.encodeStateVector(new Y.Doc())]]) })

describe('a plain libp2p node without the secret', () => {
  it('reads nothing, writes nothing, and is disconnected and refused after the handshake timeout', async () => {
    const { a, b, secret } = await admittedPair()
    const outsider = await hosts.plain()
    const outsiderId = outsider.peerId.toString()
    const received: Message[] = []
    outsider.services.pubsub.addEventListener('message', (event) => { if (event.detail.topic === TOPIC) received.push(event.detail) })
    outsider.services.pubsub.subscribe(TOPIC)
    const connectedAt = Date.now()
    await outsider.dial(multiaddr(quicAddr(a)))
    await outsider.dial(multiaddr(quicAddr(b)))

    // Every protocol asked while the handshake is pending: each handler waits for admission, then aborts.
    const probes = Promise.all([
      probe(outsider, a, SYNC_PROTOCOL, [hello]),
      probe(outsider, b, SYNC_PROTOCOL, [hello]),
      probe(outsider, a, PEER_EXCHANGE_PROTOCOL, [encodeJson({ type: 'pex-request', limit: 50 })]),
      probe(outsider, a, SWARM_PROTOCOL, [encodeJson({ type: 'join', swarm: 'ops', roles: ['coder'] })]),
      probe(outsider, b, RAFT_PROTOCOL, [encodeJson({ swarm: 'ops', message: { v: 1, type: 'vote', term: 99, candidate: outsiderId } })])
    ])

    await waitFor('A and B know the outsider subscribes', () => [a, b].every((node) =>
      node.host.services.pubsub.getSubscribers(TOPIC).some((peer) => peer.equals(outsider.peerId))), 4_000)
    const rejected = (): number[] => [a.replication.stats.gossipRejected, b.replication.stats.gossipRejected]
    const rejectedGrew = async (before: number[], by: number): Promise<void> => {
      await waitFor(`A and B rejected ${by} more messages`, () => rejected().every((count, i) => count - (before[i] ?? 0) >= by), 3_000)
    }

    // Its own publications, a forged plaintext write and garbage, signed by itself: rejected.
    const beforeForged = rejected()
    await outsider.services.pubsub.publish(TOPIC, gossipPayload(NAMESPACE, entryUpdate(NAMESPACE, 'planted', 'from-outsider', outsiderId)))
    await outsider.services.pubsub.publish(TOPIC, new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
    await rejectedGrew(beforeForged, 2)

    // A write on A while the outsider is still connected and subscribed: gossipsub flood-publishes
    // it to every subscriber not yet scored down, the outsider included, so only the seal protects it.
    const value = `classified-${Math.random().toString(36).slice(2)}`
    await a.memory.put(NAMESPACE, 'secret1', value, { author: a.peerId })
    await waitFor('the outsider got the (sealed) gossip', () => received.length > 0, 3_000)
    const captured = received.map((message) => message.data)
    for (const data of captured) {
      expect(Buffer.from(data).includes(Buffer.from(value))).toBe(false)
      expect(Buffer.from(data).includes(Buffer.from('secret1'))).toBe(false)
      expect(() => decodeMemoryGossip(TOPIC, data)).toThrow(ProtocolError)
    }
    // The captured sealed message replayed under its own signature, without knowing the key: rejected.
    const beforeReplay = rejected()
    await outsider.services.pubsub.publish(TOPIC, captured[0] as Uint8Array)
    await rejectedGrew(beforeReplay, 1)
    await visibleWithin(b, 'secret1', value, 5_000)

    const results = await probes
    for (const result of results) {
      expect(result.frames).toEqual([])
      expect(result.timedOut).toBe(false)
    }

    for (const node of [a, b]) {
      await waitFor('the outsider refused', () => node.admission.refused().some((r) => r.peerId === outsiderId), REFUSAL_WITHIN_MS)
      expect(node.admission.refused().find((r) => r.peerId === outsiderId)).toMatchObject({ reason: 'timeout' })
      expect(node.admission.isAdmitted(outsiderId)).toBe(false)
      expect(node.admission.isBackedOff(outsiderId)).toBe(true)
    }
    await waitFor('the outsider disconnected', () => outsider.getConnections().length === 0, 3_000)
    // Not before the handshake timeout: the refusal is the timeout's, not a side effect of the probes.
    expect(Date.now() - connectedAt).toBeGreaterThanOrEqual(4_500)
    expect(a.memory.get(NAMESPACE, 'planted')).toBeUndefined()
    expect(b.memory.get(NAMESPACE, 'planted')).toBeUndefined()
    expect(a.peers().map((peer) => peer.peerId)).toEqual([b.peerId])

    // A and B still replicate, both ways.
    await b.memory.put(NAMESPACE, 'after', 'still-replicating', { author: b.peerId })
    await visibleWithin(a, 'after', 'still-replicating', 5_000)
    await a.memory.put(NAMESPACE, 'after2', 'both-ways', { author: a.peerId })
    await visibleWithin(b, 'after2', 'both-ways', 5_000)
    expect(isConnected(a, b)).toBe(true)
  }, 40_000)
})

describe('what a node remembers of refused peers', () => {
  it('does not remember a refused peer in peers.json for redialling', async () => {
    const { path } = await secretFileIn(net)
    const a = await net.start({ embedder: 'hash', networkSecretFile: path })
    const outsider = await hosts.plain()
    await outsider.dial(multiaddr(quicAddr(a)))
    await waitFor('the outsider refused', () => a.admission.refused().length > 0, REFUSAL_WITHIN_MS)
    await a.stop()
    const remembered = JSON.parse(await readFile(join(a.config.dataDir, KNOWN_PEERS_FILE), 'utf8').catch(() => '[]')) as Array<{ peerId: string }>
    expect(remembered.map((peer) => peer.peerId)).not.toContain(outsider.peerId.toString())
  }, 20_000)
})

describe('a peerflow node with another secret', () => {
  it('is refused by both, reads nothing and its writes reach no one', async () => {
    const { a, b } = await admittedPair()
    const other = await secretFileIn(net)
    const e = await net.start({ embedder: 'hash', networkSecretFile: other.path })

    const joining = await e.join(multiaddr(quicAddr(a)), never).catch((err: unknown) => err)
    expect(joining).toMatchObject({ kind: 'forbidden' })
    expect((joining as Error).message).toMatch(/not admitted/)
    await waitFor('A refused E', () => a.admission.refused().some((r) => r.peerId === e.peerId), 3_000)
    expect(a.admission.refused().find((r) => r.peerId === e.peerId)).toMatchObject({ reason: 'wrong-secret' })
    expect(e.admission.refused().find((r) => r.peerId === a.peerId)).toMatchObject({ reason: 'wrong-secret' })
    await expect(e.join(multiaddr(quicAddr(b)), never)).rejects.toMatchObject({ kind: 'forbidden' })
    await waitFor('E disconnected from both', () => !isConnected(e, a) && !isConnected(e, b), 3_000)

    await a.memory.put(NAMESPACE, 'secret1', 'classified', { author: a.peerId })
    await visibleWithin(b, 'secret1', 'classified', 5_000)
    await e.memory.put(NAMESPACE, 'planted', 'from-intruder', { author: e.peerId })
    // Long enough for gossip and a catch-up round to have carried either write.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(e.memory.get(NAMESPACE, 'secret1')).toBeUndefined()
    expect(a.memory.get(NAMESPACE, 'planted')).toBeUndefined()
    expect(b.memory.get(NAMESPACE, 'planted')).toBeUndefined()
    // Backed off: E's redial is dropped before any protocol runs.
    await expect(e.join(multiaddr(quicAddr(a)), never)).rejects.toMatchObject({ kind: expect.any(String) })
    expect(a.admission.isAdmitted(e.peerId)).toBe(false)
    expect(e.peers()).toEqual([])
  }, 30_000)
})

describe('replayed gossip between admitted nodes', () => {
  it('refuses a sealed update moved to another namespace topic', async () => {
    const { a, b, secret } = await admittedPair()
    const rejectedBefore = a.replication.stats.gossipRejected
    // Sealed for 'shared-knowledge' but published on the topic of 'task-queue': the seal is valid,
    // the namespace inside the payload gives the move away.
    const moved = gossipPayload(NAMESPACE, entryUpdate(NAMESPACE, 'moved', 'misplaced', b.peerId), secret)
    await waitFor('B knows A subscribes to task-queue', () => b.host.services.pubsub.getSubscribers(memoryTopic('task-queue')).length > 0, 10_000)
    // Published again until A has judged it: B may list A as a subscriber before its own stream to
    // A is open, and a publish then reaches no one.
    await waitFor('A rejected the moved update', async () => {
      if (a.replication.stats.gossipRejected > rejectedBefore) return true
      await b.host.services.pubsub.publish(memoryTopic('task-queue'), moved)
      return false
    }, 10_000, 250)
    expect(a.memory.get('task-queue', 'moved')).toBeUndefined()
    expect(a.memory.get(NAMESPACE, 'moved')).toBeUndefined()
  }, 30_000)
})
