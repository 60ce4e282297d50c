import { afterEach, describe, expect, it } from 'vitest'
import { swarmNamespace } from '../crdt/index.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { memoryTopic } from '../protocols/memory-gossip.ts'
import { startCluster } from './helpers/memory.ts'
import { TestNetwork, waitFor } from './helpers/nodes.ts'

const net = new TestNetwork()
afterEach(async () => { await net.cleanup() })

const SCOPED = swarmNamespace('work')

function bytesOf (node: PeerflowNode, namespace: string): number {
  const row = node.replicationStatus().namespaces.find((candidate) => candidate.namespace === namespace)
  return (row?.gossipBytes ?? 0) + (row?.syncBytes ?? 0)
}

async function writeNotes (node: PeerflowNode, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await node.memory.put(SCOPED, `note-${i}`, 'x'.repeat(2_000), { author: node.peerId })
}

describe('replication scope in one process', () => {
  it('with scoping off (the baseline), a node outside the swarm replicates its namespace like any other', async () => {
    const [a, , outsider] = await startCluster(net, 3, { scopedReplication: false }) as [PeerflowNode, PeerflowNode, PeerflowNode]
    await a.swarms.init('work', 'hierarchical', 8, [])
    await writeNotes(a, 20)
    await waitFor('the outsider holds the swarm\'s namespace', () => outsider.memory.list(SCOPED).length === 20, 15_000)
    expect(outsider.replicationStatus().scoped).toBe(false)
    expect(bytesOf(outsider, SCOPED)).toBeGreaterThan(20 * 2_000)
  })

  it('leaving a swarm unsubscribes from its topic; the node stops asking for it and peers stop sending it', async () => {
    const [a, member] = await startCluster(net, 2) as [PeerflowNode, PeerflowNode]
    await a.swarms.init('work', 'hierarchical', 8, [])
    await waitFor('the member joined', async () => member.swarms.join('work', []).then(() => true, () => false), 15_000, 100)
    await waitFor('the member subscribed to the swarm\'s topic', () => member.host.services.pubsub.getTopics().includes(memoryTopic(SCOPED)))
    await writeNotes(a, 5)
    await waitFor('the member holds the notes', () => member.memory.list(SCOPED).length === 5, 15_000)

    await member.swarms.leave('work')
    await waitFor('the member left the topic', () => !member.host.services.pubsub.getTopics().includes(memoryTopic(SCOPED)), 15_000)
    expect(member.replicationStatus().swarms).toEqual([])
    const before = bytesOf(member, SCOPED)
    await a.memory.put(SCOPED, 'after-leaving', 'not for former members', { author: a.peerId })
    await member.replication.catchUp.syncWith(a.host.peerId)
    expect(bytesOf(member, SCOPED)).toBe(before)
    expect(member.memory.get(SCOPED, 'after-leaving')).toBeUndefined()
  })
})
