import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PeerflowClient } from '../../node/cli/peerflow-client.ts'
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
