import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, describe, expect, it } from 'vitest'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { SwarmError } from '../src/swarm/swarm-service.ts'
import { quicAddr, TestNetwork, waitFor } from './helpers/nodes.ts'
import { pollFor } from './helpers/swarm-cluster.ts'

// One process, one event loop: timeouts twice the defaults keep its pauses from reading as a dead leader.
const TIMING = { timeoutMinMs: 300, timeoutMaxMs: 600, heartbeatMs: 60 }
const net = new TestNetwork()

function agreedLeader (nodes: PeerflowNode[], swarm: string): { leader: string, term: number } | undefined {
  const views = nodes.map((node) => node.swarms.status(swarm))
  const first = views[0]
  if (first === undefined || first.leader === null) return undefined
  return views.every((view) => view.leader === first.leader && view.term === first.term) ? { leader: first.leader, term: first.term } : undefined
}

async function joinSwarm (node: PeerflowNode, swarm: string): Promise<void> {
  await waitFor(`${swarm} to replicate`, () => node.swarms.list().some((status) => status.name === swarm))
  await pollFor(`${node.peerId} to join ${swarm}`, async () => {
    try {
      return await node.swarms.join(swarm, [])
    } catch (err) {
      if (err instanceof SwarmError && err.kind === 'unavailable') return undefined
      throw err
    }
  })
}

afterAll(async () => { await net.cleanup() })

describe('a swarm with fewer voters than members', () => {
  it('keeps later joiners as non-voting workers that follow the leader, also after a failover', async () => {
    const nodes = await Promise.all(Array.from({ length: 4 }, async () => net.start({ election: TIMING, embedder: 'hash' })))
    const never = new AbortController().signal
    for (const [index, node] of nodes.entries()) {
      for (const other of nodes.slice(0, index)) await node.join(multiaddr(quicAddr(other)), never)
    }
    const [first, ...others] = nodes as [PeerflowNode, ...PeerflowNode[]]
    await expect(first.swarms.init('bad', 'mesh', 4, [], 8)).rejects.toThrow(/voters must be an integer from 1 to 7/)
    await first.swarms.init('crew', 'mesh', 4, [], 3)
    for (const node of others) await joinSwarm(node, 'crew')
    const { leader, term } = await pollFor('all four to agree on a leader', () => agreedLeader(nodes, 'crew'))

    const order = nodes.map((node) => node.peerId)
    const status = first.swarms.status('crew')
    expect(status.members.map((member) => [member.peerId, member.voter])).toEqual(order.map((peerId, i) => [peerId, i < 3]))
    const worker = nodes[3] as PeerflowNode
    expect(worker.swarms.status('crew').self).not.toBe('leader')

    // The leader is one of the three voters; the two left still make a quorum of them.
    const leaderNode = nodes.find((node) => node.peerId === leader) as PeerflowNode
    expect(order.indexOf(leader)).toBeLessThan(3)
    await leaderNode.stop()
    const survivors = nodes.filter((node) => node !== leaderNode)
    const next = await pollFor('the survivors, the worker too, to name a new leader', () => {
      const agreed = agreedLeader(survivors, 'crew')
      return agreed !== undefined && agreed.leader !== leader && agreed.term > term ? agreed : undefined
    }, 15_000)
    expect(order.indexOf(next.leader)).toBeLessThan(3)
    expect(next.leader).not.toBe(worker.peerId)
  }, 60_000)
})
