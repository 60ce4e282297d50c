import { swarmNamespace } from '../../crdt/index.ts'
import { api } from '../../test/helpers/netns.ts'
import { joinSwarm } from './scale-failover.ts'
import { median } from './report.ts'
import { writeMany, waitForEntries } from './scale-measurements.ts'
import { entriesIn, rawMetrics, type BedNode, type ScaleTestbed } from './scale-testbed.ts'

/**
 * Per-node bytes saved by scoped replication on the scale bed: swarms of `SWARM_SIZE` (6 of 5 at 30
 * nodes), one member of each writing into its swarm's namespace, and the same volume written once
 * into a network-wide namespace in the same run. Bytes are the node's own per-namespace counter
 * (`peerflow_replication_received_bytes_total`, gossip and catch-up). Without scoping every node
 * would receive every swarm's namespace, each about what a node receives of the network-wide one:
 * that times the number of swarms is the unscoped equivalent the scoped figure is compared with.
 * (`npm run bench:scope` measures a real unscoped network against a scoped one, at 6 nodes.)
 */
export const RECEIVED_BYTES_FAMILY = 'peerflow_replication_received_bytes_total'
const SWARM_SIZE = 5
const MAX_SWARMS = 6
const ENTRIES = 40
const VALUE_BYTES = 2_000
const BASELINE_NAMESPACE = 'scale-scope-baseline'

export interface ScopedSavings {
  swarms: number
  swarmSize: number
  entriesPerSwarm: number
  valueBytes: number
  /** Swarm-namespace bytes a node received, over the swarms' members that did not write. */
  scopedPerNodeMedianBytes: number
  scopedPerNodeMaxBytes: number
  /** Bytes a node (other than the writer) received of the network-wide namespace, median. */
  networkWidePerNodeMedianBytes: number
  /** What each node would receive unscoped: the network-wide figure once per swarm. */
  unscopedEquivalentPerNodeBytes: number
  savedPerNodeBytes: number
  /** scoped / unscoped equivalent. */
  ratio: number
  /** The most a node received of a swarm namespace it is not a member of: 0 when scoping holds. */
  outsiderMaxBytes: number
}

/** namespace -> bytes received (gossip and catch-up summed), from the node's /metrics text. */
async function receivedByNamespace (node: BedNode): Promise<Map<string, number>> {
  const bytes = new Map<string, number>()
  const pattern = new RegExp(`^${RECEIVED_BYTES_FAMILY}\\{([^}]*)\\} ([0-9.e+]+)$`)
  for (const line of (await rawMetrics(node)).split('\n')) {
    const match = pattern.exec(line)
    const namespace = match === null ? undefined : /namespace="([^"]+)"/.exec(match[1] ?? '')?.[1]
    if (match === null || namespace === undefined) continue
    bytes.set(namespace, (bytes.get(namespace) ?? 0) + Number(match[2]))
  }
  return bytes
}

async function formSwarmOf (members: BedNode[], name: string): Promise<void> {
  const [first, ...others] = members
  if (first === undefined) throw new Error(`no members for ${name}`)
  await api(first.process, 'POST', '/swarms', { name, topology: 'hierarchical', maxAgents: 64 })
  for (const node of others) await joinSwarm(node, name)
}

export async function scopedReplicationSavings (bed: ScaleTestbed, log: (line: string) => void): Promise<ScopedSavings> {
  const nodes = bed.running()
  const swarmCount = Math.min(MAX_SWARMS, Math.floor(nodes.length / SWARM_SIZE))
  if (swarmCount < 1) throw new Error(`scoped replication needs ${SWARM_SIZE} running nodes, ${nodes.length} are`)
  const swarms = Array.from({ length: swarmCount }, (_, s) => ({ name: `scope${s}`, members: nodes.slice(s * SWARM_SIZE, (s + 1) * SWARM_SIZE) }))
  for (const swarm of swarms) await formSwarmOf(swarm.members, swarm.name)
  log(`  scoped replication: ${swarmCount} swarms of ${SWARM_SIZE} formed`)

  const before = await Promise.all(nodes.map(receivedByNamespace))
  for (const swarm of swarms) await writeMany([swarm.members[0] as BedNode], swarmNamespace(swarm.name), 'note', ENTRIES, VALUE_BYTES)
  await writeMany([nodes[0] as BedNode], BASELINE_NAMESPACE, 'note', ENTRIES, VALUE_BYTES)
  for (const swarm of swarms) await waitForEntries(swarm.members, swarmNamespace(swarm.name), ENTRIES, 120_000)
  await waitForEntries(nodes, BASELINE_NAMESPACE, ENTRIES, 120_000)
  const after = await Promise.all(nodes.map(receivedByNamespace))
  const delta = (n: number, namespace: string): number => (after[n]?.get(namespace) ?? 0) - (before[n]?.get(namespace) ?? 0)

  const scoped: number[] = []
  const networkWide: number[] = []
  let outsiderMaxBytes = 0
  for (const [n, node] of nodes.entries()) {
    const own = swarms.find((swarm) => swarm.members.includes(node))
    if (node !== nodes[0]) networkWide.push(delta(n, BASELINE_NAMESPACE))
    for (const swarm of swarms) {
      const received = delta(n, swarmNamespace(swarm.name))
      if (swarm !== own) outsiderMaxBytes = Math.max(outsiderMaxBytes, received)
    }
    if (own !== undefined && own.members[0] !== node) scoped.push(swarms.reduce((sum, swarm) => sum + delta(n, swarmNamespace(swarm.name)), 0))
  }
  // What stays with a node's own swarm is the same with or without scoping; outsiders hold nothing.
  for (const swarm of swarms) {
    for (const node of nodes.filter((candidate) => !swarm.members.includes(candidate)).slice(0, 3)) {
      if (await entriesIn(node, swarmNamespace(swarm.name)) !== 0) throw new Error(`node ${node.slot} holds ${swarm.name}'s namespace without being a member`)
    }
  }
  const networkWidePerNode = median(networkWide)
  const unscopedEquivalent = networkWidePerNode * swarmCount
  const scopedPerNode = median(scoped)
  return {
    swarms: swarmCount,
    swarmSize: SWARM_SIZE,
    entriesPerSwarm: ENTRIES,
    valueBytes: VALUE_BYTES,
    scopedPerNodeMedianBytes: scopedPerNode,
    scopedPerNodeMaxBytes: Math.max(...scoped),
    networkWidePerNodeMedianBytes: networkWidePerNode,
    unscopedEquivalentPerNodeBytes: unscopedEquivalent,
    savedPerNodeBytes: unscopedEquivalent - scopedPerNode,
    ratio: scopedPerNode / unscopedEquivalent,
    outsiderMaxBytes
  }
}
