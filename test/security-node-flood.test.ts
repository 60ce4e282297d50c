import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { memoryTopic } from '../protocols/memory-gossip.ts'
import { isConnected, quicAddr, TestNetwork, waitFor } from './helpers/nodes.ts'
import { entryUpdate, gossipPayload, secretFileIn, startLoggedNode } from './helpers/security.ts'

const net = new TestNetwork()
afterEach(async () => { await net.cleanup() })

const NAMESPACE = 'shared-knowledge'
const TOPIC = memoryTopic(NAMESPACE)
const never = new AbortController().signal
/** Small enough that a flood trips them within a second: 121 messages at once is abuse. */
const LIMITS = { gossipPerSecond: 50, gossipBurst: 100, maxViolations: 20 }
/** The limiter's violation window (node.ts): abuse is reported once per window. */
const VIOLATION_WINDOW_MS = 10_000
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

interface Flood {
  /** Messages published so far. */
  sent: () => number
  stop: () => Promise<void>
}

/**
 * An admitted node publishing valid, sealed, distinct memory updates straight to gossipsub, in
 * batches as fast as the shared event loop allows (its own replication would coalesce them).
 */
function startFlood (flooder: PeerflowNode, secret: Uint8Array, batch = 20, pauseMs = 5): Flood {
  let sent = 0
  let running = true
  const pubsub = flooder.host.services.pubsub
  const loop = (async () => {
    while (running) {
      for (let i = 0; i < batch; i++) {
        const update = entryUpdate(NAMESPACE, `flood-${sent}`, sent, flooder.peerId)
        pubsub.publish(TOPIC, gossipPayload(NAMESPACE, update, secret)).catch(() => {})
        sent++
      }
      await sleep(pauseMs)
    }
  })()
  return { sent: () => sent, stop: async () => { running = false; await loop } }
}

/** Write on `from`, poll `to` until the value shows: one write-to-visible latency, in ms. */
async function replicationLatency (from: PeerflowNode, to: PeerflowNode, key: string): Promise<number> {
  const started = performance.now()
  await from.memory.put(NAMESPACE, key, key, { author: from.peerId })
  await waitFor(`${key} replicated`, () => to.memory.get(NAMESPACE, key) !== undefined, 15_000, 2)
  return performance.now() - started
}

function summary (samples: number[]): { n: number, median: number, p95: number, max: number } {
  const sorted = [...samples].sort((x, y) => x - y)
  const at = (q: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN)
  return { n: sorted.length, median: at(0.5), p95: at(0.95), max: Math.round(sorted.at(-1) ?? NaN) }
}

const refusalOf = (node: PeerflowNode, peerId: string): string | undefined =>
  node.admission.refused().filter((refusal) => refusal.peerId === peerId).at(-1)?.reason

describe('an admitted peer flooding memory gossip', () => {
  it('is throttled, then disconnected and backed off for abuse, while an honest peer keeps replicating', async () => {
    const { path, secret } = await secretFileIn(net)
    const a = await net.start({ embedder: 'hash', networkSecretFile: path, limits: LIMITS })
    // One connection each, to A: the flood reaches A directly, and B only ever relays its own writes.
    const b = await net.start({ embedder: 'hash', networkSecretFile: path, maxConnections: 1 })
    const flooder = await net.start({ embedder: 'hash', networkSecretFile: path, maxConnections: 1 })
    await b.join(multiaddr(quicAddr(a)), never)
    await flooder.join(multiaddr(quicAddr(a)), never)
    await waitFor('the flooder sees A subscribed', () => flooder.host.services.pubsub.getSubscribers(TOPIC).some((peer) => peer.toString() === a.peerId), 3_000)

    const baseline: number[] = []
    for (let i = 0; i < 10; i++) baseline.push(await replicationLatency(b, a, `baseline-${i}`))

    const rejectedBefore = a.replication.stats.gossipRejected
    let refusedAfterMs: number | undefined
    const floodStarted = performance.now()
    a.admission.on('peer:refused', (refusal) => {
      if (refusal.peerId === flooder.peerId) refusedAfterMs ??= performance.now() - floodStarted
    })
    const flood = startFlood(flooder, secret)
    const during: number[] = []
    let i = 0
    // Honest writes all through the flood, and a second past the refusal.
    while (performance.now() - floodStarted < 15_000) {
      during.push(await replicationLatency(b, a, `honest-${i++}`))
      if (refusedAfterMs !== undefined && performance.now() - floodStarted > refusedAfterMs + 1_000) break
      await sleep(20)
    }
    await flood.stop()
    // Within the 5 s backoff: cut off, and its redial dropped by A's gater.
    expect(refusalOf(a, flooder.peerId)).toBe('abuse')
    expect(a.admission.isAdmitted(flooder.peerId)).toBe(false)
    expect(a.admission.isBackedOff(flooder.peerId)).toBe(true)
    await waitFor('the flooder disconnected', () => !isConnected(a, flooder) && !isConnected(flooder, a), 2_000)
    // The flooder lifts its own backoff of A (as an explicit join does) and dials: A's gater drops it.
    expect(flooder.admission.retryNow(a.peerId)).toEqual({ allowed: true })
    await flooder.host.dial(multiaddr(quicAddr(a))).catch(() => {})
    await sleep(300)
    expect(a.admission.isBackedOff(flooder.peerId)).toBe(true)
    expect(a.admission.isAdmitted(flooder.peerId)).toBe(false)
    expect(isConnected(a, flooder)).toBe(false)
    const after: number[] = []
    for (let j = 0; j < 5; j++) after.push(await replicationLatency(b, a, `after-${j}`))

    const figures = {
      refusedAfterMs: refusedAfterMs === undefined ? undefined : Math.round(refusedAfterMs),
      published: flood.sent(),
      acceptedFromFlood: a.memory.list(NAMESPACE, { prefix: 'flood-' }).length,
      rejectedByA: a.replication.stats.gossipRejected - rejectedBefore,
      baseline: summary(baseline),
      duringFlood: summary(during),
      afterRefusal: summary(after)
    }
    console.log(`flood figures (ms): ${JSON.stringify(figures)}`)

    expect(refusedAfterMs).toBeLessThan(12_000)
    // Throttled until it was cut off: A took no more than its bucket allows over that time (the
    // flood shares the CPU with A, so how long A takes to notice varies with the machine's load).
    const allowed = LIMITS.gossipBurst + LIMITS.gossipPerSecond * ((refusedAfterMs ?? Infinity) + 500) / 1_000
    expect(figures.acceptedFromFlood).toBeLessThanOrEqual(allowed)
    expect(figures.rejectedByA).toBeGreaterThan(LIMITS.maxViolations)

    // The honest peer was never throttled, and its writes kept arriving: a generous bound for a
    // loaded two-core machine running flooder and victims in one process.
    expect(refusalOf(a, b.peerId)).toBeUndefined()
    expect(isConnected(a, b)).toBe(true)
    expect(figures.duringFlood.max).toBeLessThan(5_000)
    expect(figures.afterRefusal.max).toBeLessThan(3_000)
  }, 60_000)

  it('with the same limits everywhere, both receivers refuse the flooder and never each other', async () => {
    const { path, secret } = await secretFileIn(net)
    const a = await net.start({ embedder: 'hash', networkSecretFile: path, limits: LIMITS })
    const b = await net.start({ embedder: 'hash', networkSecretFile: path, limits: LIMITS })
    const flooder = await net.start({ embedder: 'hash', networkSecretFile: path })
    await b.join(multiaddr(quicAddr(a)), never)
    await flooder.join(multiaddr(quicAddr(a)), never)
    await flooder.join(multiaddr(quicAddr(b)), never)
    await waitFor('the flooder sees both subscribed', () => flooder.host.services.pubsub.getSubscribers(TOPIC).length === 2, 3_000)

    // A relays to B what it accepted from the flooder (and B to A): charged to the relay, it must
    // stay within what each receiver allows.
    const flood = startFlood(flooder, secret)
    await waitFor('both refused the flooder', () => refusalOf(a, flooder.peerId) === 'abuse' && refusalOf(b, flooder.peerId) === 'abuse', 15_000)
      .finally(async () => { await flood.stop() })
    await sleep(1_000)
    expect(refusalOf(a, b.peerId)).toBeUndefined()
    expect(refusalOf(b, a.peerId)).toBeUndefined()
    expect(isConnected(a, b)).toBe(true)
    const latency = await replicationLatency(a, b, 'still-replicating')
    expect(latency).toBeLessThan(5_000)
  }, 40_000)

  it('backs a repeat offender off longer each time, even though it passes the handshake in between', async () => {
    const { path, secret } = await secretFileIn(net)
    const { node: a, records } = await startLoggedNode(net, { embedder: 'hash', networkSecretFile: path, limits: LIMITS })
    const flooder = await net.start({ embedder: 'hash', networkSecretFile: path, maxConnections: 1 })
    const backoffs = (): number[] => records
      .filter((record) => record.peer === flooder.peerId && record.reason === 'abuse')
      .map((record) => record.backoffMs as number)

    const offend = async (): Promise<number> => {
      await flooder.join(multiaddr(quicAddr(a)), never)
      await waitFor('the flooder sees A subscribed', () => flooder.host.services.pubsub.getSubscribers(TOPIC).length > 0, 3_000)
      const before = backoffs().length
      const flood = startFlood(flooder, secret)
      await waitFor('refused for abuse', () => backoffs().length > before, 15_000).finally(async () => { await flood.stop() })
      return performance.now()
    }

    const firstAt = await offend()
    // Its operator cannot join it back either while the backoff lasts, and is told why.
    await expect(a.join(multiaddr(quicAddr(flooder)), never)).rejects.toThrow(/disconnected for abusing this node; it may connect again in \d+ s/)
    // Its operator stops redialling A. A does not call an abuser back either, even once its
    // backoff is over: nothing connects them until the flooder joins again.
    await flooder.leave(a.peerId)
    await waitFor('the first backoff is over', () => !a.admission.isBackedOff(flooder.peerId), 10_000, 100)
    // Rejoins after the limiter's violation window too (abuse is only reported once per window),
    // and offends again.
    await sleep(Math.max(2_000, firstAt + VIOLATION_WINDOW_MS + 500 - performance.now()))
    expect(isConnected(a, flooder)).toBe(false)
    await offend()
    const [first, second] = backoffs()
    expect(first).toBe(5_000)
    expect(second).toBe(10_000)
    expect(a.admission.refused().filter((refusal) => refusal.peerId === flooder.peerId).map((refusal) => refusal.reason)).toEqual(['abuse', 'abuse'])
  }, 60_000)
})
