import { startNodeProcess } from './cli.ts'
import { apiCall, LOOPBACK_NODE_ARGS, type ClusterMember } from './swarm-cluster.ts'

/**
 * Faults injected into `peerflow start` processes from outside, as an operator or the machine would:
 * a partition through the nodes' own `block` API, SIGSTOP/SIGCONT, SIGKILL and a restart from the
 * same data dir. Healing does nothing else: the nodes must redial and catch up on their own.
 */

/** `block` (or `unblock`) every pair across the two groups, on both sides, through the control API. */
export async function setPartition (command: 'block' | 'unblock', groupA: ClusterMember[], groupB: ClusterMember[]): Promise<void> {
  const pairs = groupA.flatMap((a) => groupB.flatMap((b) => [[a, b], [b, a]] as const))
  await Promise.all(pairs.map(async ([self, peer]) => {
    const reply = await apiCall<{ error?: string }>(self.api, 'POST', `/${command}`, { peerId: peer.peerId }, 30_000)
    if (reply.status !== 200) throw new Error(`${command} ${peer.peerId} on ${self.peerId}: HTTP ${reply.status} ${reply.body?.error ?? ''}`)
  }))
}

export function pause (member: ClusterMember): void {
  member.process.child.kill('SIGSTOP')
}

export function resume (member: ClusterMember): void {
  member.process.child.kill('SIGCONT')
}

/** SIGKILL: no shutdown path runs, as in a crash. */
export async function kill (member: ClusterMember): Promise<void> {
  await member.process.stop('SIGKILL')
}

/** Starts a killed member again from its data dir; nobody joins it to anything, it redials the peers it remembers. */
export async function restart (member: ClusterMember, env: NodeJS.ProcessEnv = {}): Promise<void> {
  member.replace(await startNodeProcess(['--data', member.dataDir, ...LOOPBACK_NODE_ARGS], env, 180_000))
}
