import { multiaddr } from '@multiformats/multiaddr'
import type { Topology } from '../../protocols/swarm.ts'
import { defaults, type NodeConfig } from '../../node/config/config.ts'
import type { PeerflowNode } from '../../node/core/peerflow-node.ts'
import type { TaskReport } from '../../src/swarm/tasks/task-report.ts'
import { quicAddr, waitFor, type TestNetwork } from './nodes.ts'

/** Helpers for task-layer tests: a swarm of in-process nodes pointed at the local model server. */

/** Fast failover for tests: heartbeats every 100 ms, a worker silent for 1 s is presumed lost. */
/**
 * Three nodes in one process share one event loop: a burst of work can stall it past the default
 * 150-300 ms election timeouts and depose a healthy leader. Calmer timeouts keep these tests about
 * tasks; leader changes are exercised on purpose in the simulation and the process tests.
 */
export const CALM_ELECTION: NodeConfig['election'] = { timeoutMinMs: 600, timeoutMaxMs: 1_200, heartbeatMs: 100 }

export function fastAgents (overrides: Partial<NodeConfig['agents']> = {}): NodeConfig['agents'] {
  return { ...defaults('.').agents, heartbeatMs: 100, workerTimeoutMs: 1_000, ...overrides }
}

/** Config overrides for one test node; `agents` merges over the fast test defaults. */
export type NodeOverrides = Omit<Partial<NodeConfig>, 'agents'> & { agents?: Partial<NodeConfig['agents']> }

export interface TaskSwarmOptions {
  name?: string
  topology: Topology
  size?: number
  /** Roles per member, in join order (default: none listed, i.e. any role). */
  roles?: string[][]
  maxAgents?: number
  /** Per-member config overrides, in join order. */
  configs?: NodeOverrides[]
  /** Shared by every member unless `configs` says otherwise. */
  agents?: Partial<NodeConfig['agents']>
  baseUrl: string
}

const never = new AbortController().signal

/** Starts `size` nodes, links them, forms one swarm and waits until every member agrees on its leader. */
export async function startTaskSwarm (net: TestNetwork, options: TaskSwarmOptions): Promise<PeerflowNode[]> {
  const name = options.name ?? 'work'
  const size = options.size ?? 3
  const nodes: PeerflowNode[] = []
  for (let i = 0; i < size; i++) {
    const overrides = options.configs?.[i] ?? {}
    nodes.push(await net.start({
      embedder: 'hash',
      election: CALM_ELECTION,
      ...overrides,
      agents: fastAgents({ baseUrl: options.baseUrl, ...options.agents, ...overrides.agents })
    }))
  }
  const [first, ...others] = nodes as [PeerflowNode, ...PeerflowNode[]]
  for (const node of others) await node.join(multiaddr(quicAddr(first)), never)
  await first.swarms.init(name, options.topology, options.maxAgents ?? 64, options.roles?.[0] ?? [])
  for (const [i, node] of others.entries()) {
    await waitFor(`swarm ${name} known on member ${i + 1}`, () => node.swarms.list().some((swarm) => swarm.name === name))
    // Membership goes through the leader, which a just-grown swarm may be electing: retry briefly.
    await waitFor(`member ${i + 1} joined swarm ${name}`, async () => {
      try {
        await node.swarms.join(name, options.roles?.[i + 1] ?? [])
        return true
      } catch {
        return false
      }
    }, 15_000, 100)
  }
  await waitFor('every member seated, one leader agreed', () => {
    const leaders = nodes.map((node) => node.swarms.member(name)?.leader ?? null)
    return leaders[0] !== null && leaders.every((leader) => leader === leaders[0]) &&
      nodes.every((node) => node.swarms.status(name).members.length === size)
  }, 15_000)
  await waitFor('every worker capacity replicated everywhere', () =>
    nodes.every((node) => nodes.every((other) => node.memory.get('tasks', `worker/${other.peerId}`) !== undefined)))
  return nodes
}

export function leaderOf (nodes: PeerflowNode[], swarm = 'work'): PeerflowNode {
  const leader = nodes.find((node) => node.swarms.member(swarm)?.role === 'leader')
  if (leader === undefined) throw new Error(`swarm ${swarm} has no leader among these nodes`)
  return leader
}

/** Waits until every node shows every task finished, and returns the reports from the first node. */
export async function waitForFinished (nodes: PeerflowNode[], ids: string[], timeoutMs = 60_000): Promise<TaskReport[]> {
  const terminal = new Set(['done', 'failed', 'cancelled'])
  await waitFor(`${ids.length} tasks finished on every node`, () => nodes.every((node) => ids.every((id) => {
    try {
      return terminal.has(node.tasks.show(id).state)
    } catch {
      return false
    }
  })), timeoutMs, 50)
  return ids.map((id) => (nodes[0] as PeerflowNode).tasks.show(id))
}
