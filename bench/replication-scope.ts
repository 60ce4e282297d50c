/**
 * npm run bench:scope — bytes each node receives when swarms keep their tasks to themselves.
 *
 * Two networks in one run, each of BENCH_SWARMS swarms of BENCH_SWARM_SIZE in-process nodes
 * (default 2 x 3), fully connected over QUIC on 127.0.0.1: the baseline with `scopedReplication`
 * off (every namespace on every node, as before scoping) and the same with scoping on. In each, one
 * member of every swarm writes BENCH_ENTRIES entries of 2 kB into its swarm's namespace and one
 * entry into shared-knowledge. The figure is the update bytes a node received (gossip and catch-up,
 * every namespace: `GET /status` -> `replication.bytesReceived.updates`), median over nodes, and
 * the ratio scoped / baseline. The 30-node figure comes from the scale bed, read the same way.
 */
import { loadavg } from 'node:os'
import { swarmNamespace } from '../crdt/index.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { startCluster } from '../test/helpers/memory.ts'
import { TestNetwork, waitFor } from '../test/helpers/nodes.ts'
import { median, printRows, writeResults, type BenchRow } from './lib/report.ts'

const SWARMS = Number(process.env.BENCH_SWARMS ?? 2)
const SWARM_SIZE = Number(process.env.BENCH_SWARM_SIZE ?? 3)
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 50)
const VALUE = 'v'.repeat(2_000)

/** Update bytes each node received while the swarms wrote. */
async function measure (scoped: boolean): Promise<number[]> {
  const net = new TestNetwork()
  try {
    const nodes = await startCluster(net, SWARMS * SWARM_SIZE, { scopedReplication: scoped })
    const swarms = Array.from({ length: SWARMS }, (_, s) => nodes.slice(s * SWARM_SIZE, (s + 1) * SWARM_SIZE))
    for (const [s, members] of swarms.entries()) {
      const [first, ...others] = members as [PeerflowNode, ...PeerflowNode[]]
      await first.swarms.init(`s${s}`, 'hierarchical', 64, [])
      for (const node of others) {
        await waitFor(`a member joined swarm s${s}`, async () => node.swarms.join(`s${s}`, []).then(() => true, () => false), 30_000, 100)
      }
    }
    const before = nodes.map((node) => node.replicationStatus().bytesReceived.updates)
    for (const [s, members] of swarms.entries()) {
      const writer = members[0] as PeerflowNode
      for (let i = 0; i < ENTRIES; i++) await writer.memory.put(swarmNamespace(`s${s}`), `note-${i}`, VALUE, { author: writer.peerId })
    }
    await (nodes[0] as PeerflowNode).memory.put('shared-knowledge', 'bench', 'everyone', { author: (nodes[0] as PeerflowNode).peerId })
    // Done when every node holds what it replicates: its own swarm's notes (every swarm's, unscoped).
    await waitFor('every node holds what it replicates', () => nodes.every((node, n) => {
      const own = Math.floor(n / SWARM_SIZE)
      const held = swarms.map((_, s) => node.memory.list(swarmNamespace(`s${s}`), { prefix: 'note-' }).length)
      const complete = held.every((count, s) => count === ((scoped && s !== own) ? 0 : ENTRIES))
      return complete && node.memory.get('shared-knowledge', 'bench') !== undefined
    }), 120_000, 100)
    return nodes.map((node, n) => node.replicationStatus().bytesReceived.updates - (before[n] as number))
  } finally {
    await net.cleanup()
  }
}

const load = loadavg()[0] as number
const baseline = await measure(false)
const scoped = await measure(true)
const nodesCount = SWARMS * SWARM_SIZE
const rows: BenchRow[] = [
  { metric: `update bytes received per node, baseline (unscoped), median of ${nodesCount}`, value: median(baseline), unit: 'B' },
  { metric: `update bytes received per node, scoped, median of ${nodesCount}`, value: median(scoped), unit: 'B' },
  { metric: 'scoped / baseline (median per node)', value: median(scoped) / median(baseline), unit: 'ratio', goal: `about 1/${SWARMS}` },
  { metric: 'bytes saved per node (median)', value: median(baseline) - median(scoped), unit: 'B' },
  { metric: 'load average (1 min) at start', value: load, unit: '' }
]
printRows(`${SWARMS} swarms of ${SWARM_SIZE} nodes, ${ENTRIES} x 2 kB written per swarm (in-process, QUIC on 127.0.0.1)`, rows)
await writeResults('replication-scope', rows, { swarms: SWARMS, swarmSize: SWARM_SIZE, entries: ENTRIES, baseline: baseline, scoped: scoped })
process.exit(0)
