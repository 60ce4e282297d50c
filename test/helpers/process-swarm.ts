import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiClient } from '../../node/cli/client.ts'
import { PeerflowClient } from '../../node/cli/peerflow-client.ts'
import type { RecordedRequest } from '../fixtures/anthropic-server.ts'
import type { NodeProcess } from './cli.ts'
import type { NodeProcessesPerTest } from './node-processes.ts'
import { waitFor } from './nodes.ts'

/** A node process with the hash embedder and fast worker heartbeats, its agents on `baseUrl` when given. */
export async function startAgentNode (processes: NodeProcessesPerTest, baseUrl?: string): Promise<NodeProcess> {
  const dir = await processes.dataDir()
  await writeFile(join(dir, 'peerflow.json'), JSON.stringify({ embedder: 'hash', agents: { ...(baseUrl === undefined ? {} : { baseUrl }), heartbeatMs: 100, workerTimeoutMs: 1_500 } }))
  return processes.start(dir)
}

/**
 * Two node processes in swarm `name`: the first offers role 'planner', the second 'reviewer', so a
 * reviewer task submitted at the first runs on the second. Resolves once both agree on a leader.
 */
export async function startReviewSwarm (processes: NodeProcessesPerTest, baseUrl: string, name = 'review'): Promise<[NodeProcess, NodeProcess]> {
  const [front, worker] = await Promise.all([startAgentNode(processes, baseUrl), startAgentNode(processes, baseUrl)])
  const frontApi = new PeerflowClient(front.api)
  const workerApi = new PeerflowClient(worker.api)
  await workerApi.peers.join(front.addresses.find((addr) => addr.includes('/quic-v1/')) as string)
  await frontApi.swarms.init({ name, roles: ['planner'] })
  await waitFor(`the worker joined swarm ${name}`, async () => {
    try {
      await workerApi.swarms.join(name, ['reviewer'])
      return true
    } catch {
      return false
    }
  }, 15_000, 100)
  await waitFor('one leader agreed by both members', async () => {
    const [a, b] = await Promise.all([frontApi.swarms.status(name), workerApi.swarms.status(name)])
    return a.leader !== null && a.leader === b.leader && a.members.length === 2 && b.members.length === 2
  }, 15_000, 100)
  return [front, worker]
}

/** A swarm of `peerflow start` processes, each calling the model server with its own key. */

export interface SwarmProcess extends NodeProcess {
  client: ApiClient
  /** Sent with its model calls, so the server's record tells which node made each. */
  apiKey: string
}

export interface ProcessSwarmOptions {
  size: number
  baseUrl: string
  name?: string
  /** Roles per member in join order ([] takes any role). */
  roles?: string[][]
  /** Merged into each node's `agents` config. */
  agents?: Record<string, unknown>
}

interface SwarmStatus { leader: string | null, term: number, members: unknown[] }

let keys = 0

/** Starts the processes, links them, forms the swarm; resolves once every member agrees on its leader. */
export async function startProcessSwarm (processes: NodeProcessesPerTest, options: ProcessSwarmOptions): Promise<SwarmProcess[]> {
  const name = options.name ?? 'work'
  const nodes = await Promise.all(Array.from({ length: options.size }, async () => {
    const dir = await processes.dataDir()
    const apiKey = `test-key-${keys++}`
    // Heartbeats every 100 ms and a 1.5 s silence limit: failover within seconds, not the default ten.
    const agents = { baseUrl: options.baseUrl, heartbeatMs: 100, workerTimeoutMs: 1_500, ...options.agents }
    await writeFile(join(dir, 'peerflow.json'), JSON.stringify({ embedder: 'hash', agents }))
    const node = await processes.start(dir, [], { ANTHROPIC_API_KEY: apiKey })
    return { ...node, client: new ApiClient(node.api), apiKey }
  }))
  const [first, ...others] = nodes as [SwarmProcess, ...SwarmProcess[]]
  const quic = first.addresses.find((addr) => addr.includes('/quic-v1/')) as string
  for (const node of others) await node.client.request('POST', '/join', { body: { multiaddr: quic } })
  await first.client.request('POST', '/swarms', { body: { name, topology: 'hierarchical', maxAgents: 64, roles: options.roles?.[0] ?? [] } })
  for (const [i, node] of others.entries()) {
    await waitFor('joined the swarm', async () => {
      try {
        await node.client.request('POST', `/swarms/${name}/join`, { body: { roles: options.roles?.[i + 1] ?? [] } })
        return true
      } catch {
        return false
      }
    }, 15_000, 100)
  }
  await waitFor('one leader agreed by every member', async () => {
    const statuses = await Promise.all(nodes.map(async (node) => node.client.request<SwarmStatus>('GET', `/swarms/${name}`)))
    return statuses.every((status) => status.leader !== null && status.leader === statuses[0]?.leader && status.members.length === options.size)
  }, 15_000, 100)
  return nodes
}

/** The API key a model call carried (the SDK sends it as a bearer token when the base URL is custom). */
export function callerKey (request: RecordedRequest): string | undefined {
  const header = request.headers['x-api-key']
  return typeof header === 'string' ? header : /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1]
}
