import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { SYNC_LIMITS } from '../protocols/sync.ts'
import { contentOf, startCluster } from './helpers/memory.ts'
import { quicAddr, TestNetwork } from './helpers/nodes.ts'

const net = new TestNetwork()
afterEach(async () => { await net.cleanup() })

const NS = 'shared-knowledge'

describe('catch-up between two peers that ask each other at once', () => {
  it('runs one exchange, not two waiting on each other, and both end with the union', async () => {
    const [a, b] = await startCluster(net, 2) as [PeerflowNode, PeerflowNode]
    // Partitioned in effect: writes that only catch-up can bring across.
    for (const node of [a, b]) await node.leave((node === a ? b : a).peerId)
    for (let i = 0; i < 200; i++) {
      await a.memory.put(NS, `a${i}`, i, { author: a.peerId })
      await b.memory.put(NS, `b${i}`, i, { author: b.peerId })
    }
    await a.join(multiaddr(quicAddr(b)), new AbortController().signal)
    const started = performance.now()
    await Promise.all([a.replication.catchUp.syncWith(b.host.peerId), b.replication.catchUp.syncWith(a.host.peerId)])
    const tookMs = performance.now() - started
    // The old rule made each answer wait for the answerer's own exchange: the full bound, both ways.
    expect(tookMs).toBeLessThan(SYNC_LIMITS.answerWaitMs / 2)
    expect(contentOf(a, NS)).toEqual(contentOf(b, NS))
    expect(contentOf(a, NS)).toHaveLength(400)
  })
})
