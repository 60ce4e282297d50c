import { multiaddr } from '@multiformats/multiaddr'
import type { NodeConfig } from '../../node/config/config.ts'
import type { PeerflowNode } from '../../node/core/peerflow-node.ts'
import { memoryTopic } from '../../protocols/memory-gossip.ts'
import { isConnected, quicAddr, waitFor, type TestNetwork } from './nodes.ts'

const never = new AbortController().signal

/** The lexical embedder: the semantic one loads a model, which these tests have no use for. */
export const MEMORY_TEST_CONFIG: Partial<NodeConfig> = { embedder: 'hash' }

/** Every pair of `nodes` connected. */
export function fullyConnected (nodes: PeerflowNode[]): boolean {
  return nodes.every((a) => nodes.every((b) => a === b || isConnected(a, b)))
}

/** Every node sees every other as a subscriber of `namespace`'s topic, so gossip reaches all. */
export function gossipMeshReady (nodes: PeerflowNode[], namespace: string): boolean {
  const topic = memoryTopic(namespace)
  return nodes.every((node) => {
    const subscribers = new Set(node.host.services.pubsub.getSubscribers(topic).map((peer) => peer.toString()))
    return nodes.every((other) => other === node || subscribers.has(other.peerId))
  })
}

/** Joins every node to every earlier one and waits until they are all connected and subscribed. */
export async function connectAll (nodes: PeerflowNode[], namespace = 'shared-knowledge'): Promise<void> {
  for (let i = 1; i < nodes.length; i++) {
    for (let j = 0; j < i; j++) await (nodes[i] as PeerflowNode).join(multiaddr(quicAddr(nodes[j] as PeerflowNode)), never)
  }
  await waitFor('all nodes connected', () => fullyConnected(nodes))
  await waitFor(`gossip on '${namespace}' reaches every node`, () => gossipMeshReady(nodes, namespace))
}

/** Starts `count` in-process nodes, connected to each other. */
export async function startCluster (net: TestNetwork, count: number, overrides: Partial<NodeConfig> = {}): Promise<PeerflowNode[]> {
  const nodes = await Promise.all(Array.from({ length: count }, async () => net.start({ ...MEMORY_TEST_CONFIG, ...overrides })))
  await connectAll(nodes)
  return nodes
}

/** What a replica holds in a namespace, reduced to what every replica must agree on. */
export function contentOf (node: PeerflowNode, namespace: string): Array<[string, unknown]> {
  return node.memory.list(namespace).map((entry) => [entry.key, entry.value])
}

/** Whether every node holds exactly the same keys and values in `namespace`. */
export function converged (nodes: PeerflowNode[], namespace: string): boolean {
  const [first, ...rest] = nodes.map((node) => JSON.stringify(contentOf(node, namespace)))
  return rest.every((content) => content === first)
}

/** Writes `count` entries `${prefix}${i}` on `node`, `batch` at a time (one store batch each). */
export async function writeMany (node: PeerflowNode, namespace: string, prefix: string, count: number, batch = 1000): Promise<void> {
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start)
    await Promise.all(Array.from({ length: size }, async (_, offset) => {
      const i = start + offset
      await node.memory.put(namespace, `${prefix}${i}`, { i, by: prefix }, { author: node.peerId })
    }))
  }
}
