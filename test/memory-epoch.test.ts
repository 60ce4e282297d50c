import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { connectAll, MEMORY_TEST_CONFIG } from './helpers/memory.ts'
import { quicAddr, TestNetwork, waitFor } from './helpers/nodes.ts'

const net = new TestNetwork()
afterEach(async () => { await net.cleanup() })

const NS = 'tasks'
const never = new AbortController().signal

/** Keys this test writes; nodes also register themselves as workers in `tasks`. */
const JOB = 'job/'

/** Tasks created, moved through their states and finished: history without live data. */
async function churn (node: PeerflowNode, prefix: string, count: number): Promise<void> {
  // All tasks at once, each through its states in order: the store batches each step into one update.
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    const key = `${JOB}${prefix}${i}`
    for (const state of ['submitted', 'assigned', 'running', 'done']) await node.memory.put(NS, key, { state }, { author: node.peerId })
    await node.memory.delete(NS, key)
  }))
}

async function stopAndForget (node: PeerflowNode): Promise<void> {
  await node.stop()
  net.nodes.splice(net.nodes.indexOf(node), 1)
}

function jobsOn (node: PeerflowNode): Array<[string, unknown]> {
  return node.memory.list(NS, { prefix: JOB }).map((entry) => [entry.key.slice(JOB.length), entry.value])
}

/** Every node holds the same whole namespace (worker registrations included). */
function converged (nodes: PeerflowNode[]): boolean {
  const [first, ...rest] = nodes.map((node) => JSON.stringify(node.memory.list(NS).map((entry) => [entry.key, entry.value])))
  return rest.every((content) => content === first)
}

function epochOn (node: PeerflowNode): string {
  return JSON.stringify(node.memory.epochOf(NS), (key, value: unknown) => key === 'cut' ? undefined : value)
}

describe('epoch rollover across nodes', () => {
  it('moves every node to the new epoch, keeps writes made on the old one, and catches up a node that was offline', async () => {
    const dirs = await Promise.all([net.dataDir(), net.dataDir(), net.dataDir()])
    let [a, b, c] = await Promise.all(dirs.map(async (dir) => net.start(MEMORY_TEST_CONFIG, dir))) as [PeerflowNode, PeerflowNode, PeerflowNode]
    await connectAll([a, b, c], NS)
    await churn(a, 'old-', 200)
    await a.memory.put(NS, `${JOB}before`, 'written before the rollover', { author: a.peerId })
    await waitFor('the churn reaches every node', () => converged([a, b, c]) && jobsOn(c).length === 1)

    // C goes offline; B is cut off from A and keeps writing on the old epoch while A rolls over.
    await stopAndForget(c)
    await b.leave(a.peerId)
    await a.leave(b.peerId)
    const epoch = await a.memory.rollOver(NS)
    expect(epoch?.number).toBe(1)
    await a.memory.put(NS, `${JOB}after`, 'written on the new epoch', { author: a.peerId })
    await b.memory.put(NS, `${JOB}late`, 'written on the old epoch during the rollover', { author: b.peerId })

    // Rejoined: catch-up hands B the new epoch, and B's late write comes back to A as a write of it.
    await b.join(multiaddr(quicAddr(a)), never)
    await waitFor('B adopts the new epoch', () => epochOn(b) === epochOn(a), 15_000)
    await waitFor('A and B converge', () => converged([a, b]) && jobsOn(a).length === 3, 15_000)
    expect(jobsOn(a)).toEqual([
      ['after', 'written on the new epoch'],
      ['before', 'written before the rollover'],
      ['late', 'written on the old epoch during the rollover']
    ])
    // Gossip flows again between them, on the new epoch.
    await a.memory.put(NS, `${JOB}gossiped`, 1, { author: a.peerId })
    await waitFor('a new write reaches B', () => jobsOn(b).some(([key]) => key === 'gossiped'))

    // C returns from its data dir, still on epoch 0, and catches up to the new epoch's state.
    c = await net.start(MEMORY_TEST_CONFIG, dirs[2])
    expect(c.memory.epochOf(NS).number).toBe(0)
    await c.join(multiaddr(quicAddr(a)), never)
    await waitFor('C adopts the new epoch and its state', () => epochOn(c) === epochOn(a) && converged([a, b, c]), 15_000)

    // Restarts keep the epoch, and the node goes on replicating in it.
    await stopAndForget(a)
    a = await net.start(MEMORY_TEST_CONFIG, dirs[0])
    expect(epochOn(a)).toBe(epochOn(b))
    expect(jobsOn(a)).toEqual(jobsOn(b))
    await a.join(multiaddr(quicAddr(b)), never)
    await a.memory.put(NS, `${JOB}after-restart`, 1, { author: a.peerId })
    await waitFor('a write after the restart reaches B and C', () => converged([a, b, c]) && jobsOn(c).length === 5, 15_000)
  }, 60_000)
})
