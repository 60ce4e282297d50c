/**
 * npm run bench:scale — a 30-node network measured against a 5-node one in the same run (root
 * only: every node runs in its own network namespace on one bridge, see bench/lib/bridged-namespaces.ts).
 *
 * Per network size: start the nodes (each bootstraps from node 0, peer exchange links the rest),
 * preload `shared-knowledge` (in batches, as an import would), then measure
 * - write-to-all latency: a write on one node until every other node holds it (polled);
 * - gossip per write per node: delivered memory-gossip messages and gossipsub (/meshsub) bytes,
 *   idle background subtracted;
 * - join: a fresh node until it holds the whole preloaded namespace (repeated);
 * - catch-up: a node stopped while 10k writes happened (in batches), restarted from the same stale data dir
 *   (repeated), until it holds them all;
 * - leader failover in a swarm of every node (the first `maxVoters` joiners vote, the rest are
 *   non-voting workers): kill the leader until every survivor names the same new one, timed by
 *   when each survivor learned it (its swarm event log);
 * - resident memory per node;
 * - at the large size, scoped replication: per-node bytes of 6 swarms of 5 against the same volume
 *   written network-wide (bench/lib/scoped-replication-savings.ts).
 * `--quick` (or BENCH_QUICK=1) runs 5 vs 10 nodes with fewer repeats; `--nodes N` sets the large size.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { PAPER_TIMING } from '../test/helpers/swarm-cluster.ts'
import { bridgedLanUnsupported, createBridgedLan, type BridgedLan } from './lib/bridged-namespaces.ts'
import { median, percentile, writeResults, type BenchRow } from './lib/report.ts'
import { failovers, formSwarm, type FailoverSample } from './lib/scale-failover.ts'
import { catchUp, joinOnce, waitForEntries, writeBatches, writeToAll, type CatchUpSample, type JoinSample } from './lib/scale-measurements.ts'
import { connectedPeers, rssBytes, ScaleTestbed, waitForMesh, type BedNodeConfig, type GossipCounters } from './lib/scale-testbed.ts'
import { scopedReplicationSavings, type ScopedSavings } from './lib/scoped-replication-savings.ts'

const { values: flags } = parseArgs({ options: { quick: { type: 'boolean', default: false }, nodes: { type: 'string' } } })
const quick = flags.quick === true || process.env.BENCH_QUICK === '1'
const LARGE = Number(flags.nodes ?? (quick ? 10 : 30))
const SMALL = 5
const PLAN = {
  preloadEntries: quick ? 500 : 2_000,
  preloadValueBytes: 256,
  latencyWrites: quick ? 10 : 40,
  latencyValueBytes: 256,
  /** How often each receiving node is asked whether it holds a write yet. */
  pollMs: 10,
  joins: quick ? 2 : 3,
  catchUpWrites: quick ? 1_000 : 10_000,
  catchUpValueBytes: 128,
  catchUpRepeats: quick ? 2 : 3,
  /**
   * Entries per write request for the bulk volume (preload, catch-up): written one by one, 10k
   * writes took over 8 minutes on a loaded 30-node network (every write is a gossip delivery on
   * every node); in batches they are one update each, like an import.
   */
  batchEntries: 250,
  kills: quick ? 2 : 5,
  /** The swarm's voters; every other node joins as a non-voting worker. */
  voters: 5,
  failoverPollMs: 10
}
// Default election timing (the Raft paper's); the semantic embedder's model is not needed here and
// would cost ~150 MB and seconds of CPU per node at start.
const NODE_CONFIG: BedNodeConfig = { embedder: 'hash', election: PAPER_TIMING }
const SHARED = 'shared-knowledge'
const SWARM = 'scale'

interface SizeResult {
  nodes: number
  startMs: number
  connectedPeers: { min: number, median: number }
  rssBytes: { idleMedian: number, idleMax: number, loadedMedian: number, loadedMax: number, total: number }
  writeToAll: { p50Ms: number, p99Ms: number, worstMs: number, perNodeP50Ms: number, samples: number[] }
  gossipPerWritePerNode: { deliveredMessages: number, meshsubBytesReceived: number, meshsubBytesSent: number, idleMeshsubBytesPerSecond: number }
  join: { medianMs: number, worstMs: number, samples: JoinSample[] }
  catchUp: { writes: number, writeMs: number, medianMs: number, worstMs: number, samples: CatchUpSample[] }
  failover: { voters: number, workers: number, medianMs: number, worstMs: number, votersMedianMs: number, samples: FailoverSample[] }
  scopedReplication?: ScopedSavings
  loadAverage: { start: number, end: number }
}

const log = (line: string): void => { process.stdout.write(`${line}\n`) }
const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)

let lan: BridgedLan | undefined
let root: string | undefined
let bed: ScaleTestbed | undefined

async function cleanup (): Promise<void> {
  await bed?.stopAll().catch(() => {})
  await lan?.teardown().catch(() => {})
  const left = await lan?.leftovers().catch(() => []) ?? []
  if (left.length > 0) process.stderr.write(`warning: left behind: ${left.join(', ')}\n`)
  if (root !== undefined) await rm(root, { recursive: true, force: true })
  bed = undefined
  lan = undefined
  root = undefined
}

let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true
    process.stderr.write(`\n${signal}: stopping the nodes and removing the namespaces…\n`)
    void cleanup().finally(() => process.exit(130))
  })
}

async function measureSize (nodes: number, withScopedSavings: boolean): Promise<SizeResult> {
  const loadStart = loadavg()[0] as number
  lan = await createBridgedLan()
  root = await mkdtemp(join(tmpdir(), 'peerflow-bench-scale-'))
  const testbed = new ScaleTestbed(lan, root, NODE_CONFIG)
  bed = testbed
  const started = performance.now()
  await testbed.grow(nodes, 2)
  const grownMs = performance.now() - started
  await waitForMesh(testbed, Math.min(nodes - 1, 8), 300_000)
  const startMs = performance.now() - started
  log(`  processes up after ${(grownMs / 1000).toFixed(1)} s`)
  const peers = await Promise.all(testbed.running().map(connectedPeers))
  log(`  ${nodes} nodes up and meshed in ${(startMs / 1000).toFixed(1)} s (peers per node: min ${Math.min(...peers)}, median ${median(peers)})`)
  const idleRss = await Promise.all(testbed.running().map(rssBytes))

  await writeBatches(testbed.running().slice(0, 1), SHARED, 'preload', PLAN.preloadEntries, PLAN.preloadValueBytes, PLAN.batchEntries)
  await waitForEntries(testbed.running(), SHARED, PLAN.preloadEntries, 180_000)
  log(`  preloaded ${PLAN.preloadEntries} entries of ${SHARED} on every node`)

  const writes = await writeToAll(testbed, 'scale-latency', PLAN.latencyWrites, PLAN.latencyValueBytes, PLAN.pollMs)
  // Mean over the nodes: the writers' and the receivers' share of the traffic alike.
  const perWrite = (pick: (c: GossipCounters) => number): number => mean(writes.perNode.map(pick)) / PLAN.latencyWrites
  log(`  write-to-all p50 ${median(writes.toAllMs).toFixed(0)} ms, p99 ${percentile(writes.toAllMs, 99).toFixed(0)} ms`)

  const joins: JoinSample[] = []
  for (let j = 0; j < PLAN.joins; j++) {
    joins.push(await joinOnce(testbed, SHARED, PLAN.preloadEntries, 180_000))
    const sample = joins.at(-1) as JoinSample
    log(`  join ${j + 1}/${PLAN.joins}: ${sample.joinMs.toFixed(0)} ms (${sample.afterStartMs.toFixed(0)} ms after its start banner, ${(sample.syncBytesReceived / 1024).toFixed(0)} KiB by catch-up)`)
  }

  const away = testbed.running().at(-1)
  if (away === undefined) throw new Error('no node to stop')
  const caught = await catchUp(testbed, away, 'scale-catchup', PLAN.catchUpWrites, PLAN.catchUpValueBytes, PLAN.batchEntries, PLAN.catchUpRepeats, 300_000)
  log(`  catch-up after ${PLAN.catchUpWrites} writes (written in ${(caught.writeMs / 1000).toFixed(1)} s): ${caught.samples.map((s) => `${s.catchUpMs.toFixed(0)} (${s.afterStartMs.toFixed(0)} after start)`).join(', ')} ms`)
  const loadedRss = await Promise.all(testbed.running().map(rssBytes))

  const seats = await formSwarm(testbed, SWARM, PLAN.voters)
  log(`  swarm formed: ${seats.voters} voters, ${seats.workers} workers`)
  const kills = await failovers(testbed, SWARM, PLAN.kills, PLAN.failoverPollMs)
  log(`  failovers: ${kills.map((k) => `${k.failoverMs.toFixed(0)} (voters ${k.votersAgreeMs.toFixed(0)}, polled ${k.polledMs.toFixed(0)}${k.fromPolls > 0 ? `, ${k.fromPolls} nodes timed by the poll` : ''}, ${k.termsUsed} terms)`).join(', ')} ms`)

  const scopedReplication = withScopedSavings ? await scopedReplicationSavings(testbed, log) : undefined
  await cleanup()
  return {
    nodes,
    startMs,
    connectedPeers: { min: Math.min(...peers), median: median(peers) },
    rssBytes: { idleMedian: median(idleRss), idleMax: Math.max(...idleRss), loadedMedian: median(loadedRss), loadedMax: Math.max(...loadedRss), total: loadedRss.reduce((a, b) => a + b, 0) },
    writeToAll: { p50Ms: median(writes.toAllMs), p99Ms: percentile(writes.toAllMs, 99), worstMs: Math.max(...writes.toAllMs), perNodeP50Ms: median(writes.perNodeMs), samples: writes.toAllMs },
    gossipPerWritePerNode: {
      deliveredMessages: perWrite((c) => c.delivered),
      meshsubBytesReceived: perWrite((c) => c.meshsubBytesReceived),
      meshsubBytesSent: perWrite((c) => c.meshsubBytesSent),
      idleMeshsubBytesPerSecond: mean(writes.idlePerNodePerSecond.map((c) => c.meshsubBytesReceived))
    },
    join: { medianMs: median(joins.map((j) => j.joinMs)), worstMs: Math.max(...joins.map((j) => j.joinMs)), samples: joins },
    catchUp: { writes: PLAN.catchUpWrites, writeMs: caught.writeMs, medianMs: median(caught.samples.map((s) => s.catchUpMs)), worstMs: Math.max(...caught.samples.map((s) => s.catchUpMs)), samples: caught.samples },
    failover: {
      ...seats,
      medianMs: median(kills.map((k) => k.failoverMs)),
      worstMs: Math.max(...kills.map((k) => k.failoverMs)),
      votersMedianMs: median(kills.map((k) => k.votersAgreeMs)),
      samples: kills
    },
    ...(scopedReplication === undefined ? {} : { scopedReplication }),
    loadAverage: { start: loadStart, end: loadavg()[0] as number }
  }
}

const unsupported = await bridgedLanUnsupported()
if (unsupported !== undefined) {
  process.stderr.write(`bench:scale ${unsupported}\n`)
  process.exit(1)
}

const benchStarted = performance.now()
const results: SizeResult[] = []
try {
  for (const size of [SMALL, LARGE]) {
    log(`${size} nodes${quick ? ' (quick)' : ''}…`)
    results.push(await measureSize(size, size === LARGE))
  }
} catch (err) {
  // Interrupted: the signal handler tears down and exits; what failed because of it does not matter.
  if (interrupted) await new Promise(() => {})
  for (const node of bed?.nodes ?? []) {
    if (node.running) continue
    const { exitCode, signalCode } = node.process.child
    process.stderr.write(`node ${node.slot} not running (exit ${exitCode ?? signalCode}); its last output:\n${node.process.output().split('\n').slice(-6).join('\n')}\n`)
  }
  await cleanup()
  // The sizes measured so far are kept, with why the run stopped.
  await writeResults('scale', [], { nodes: LARGE, baselineNodes: SMALL, quick, plan: PLAN, failed: (err as Error).message.split('\n')[0], runs: results })
  throw err
}
const [small, large] = results as [SizeResult, SizeResult]

const MB = 1024 * 1024
interface Figure { metric: string, unit: string, pick: (r: SizeResult) => number }
const figures: Figure[] = [
  { metric: 'join: new node holds all of shared-knowledge (median)', unit: 'ms', pick: (r) => r.join.medianMs },
  { metric: 'join (worst)', unit: 'ms', pick: (r) => r.join.worstMs },
  { metric: 'join, from the joiner\'s start banner (median)', unit: 'ms', pick: (r) => median(r.join.samples.map((s) => s.afterStartMs)) },
  { metric: 'write-to-all latency p50', unit: 'ms', pick: (r) => r.writeToAll.p50Ms },
  { metric: 'write-to-all latency p99', unit: 'ms', pick: (r) => r.writeToAll.p99Ms },
  { metric: 'write-to-one-node latency p50', unit: 'ms', pick: (r) => r.writeToAll.perNodeP50Ms },
  { metric: 'gossip messages delivered per write per node', unit: 'msgs', pick: (r) => r.gossipPerWritePerNode.deliveredMessages },
  { metric: 'gossipsub bytes received per write per node', unit: 'B', pick: (r) => r.gossipPerWritePerNode.meshsubBytesReceived },
  { metric: 'gossipsub bytes sent per write per node', unit: 'B', pick: (r) => r.gossipPerWritePerNode.meshsubBytesSent },
  { metric: 'gossipsub idle traffic received per node', unit: 'B/s', pick: (r) => r.gossipPerWritePerNode.idleMeshsubBytesPerSecond },
  { metric: 'leader failover, all survivors agree (median)', unit: 'ms', pick: (r) => r.failover.medianMs },
  { metric: 'leader failover (worst)', unit: 'ms', pick: (r) => r.failover.worstMs },
  { metric: 'leader failover, voters agree (median)', unit: 'ms', pick: (r) => r.failover.votersMedianMs },
  { metric: 'leader failover, first API poll round finding agreement (median)', unit: 'ms', pick: (r) => median(r.failover.samples.map((k) => k.polledMs)) },
  { metric: `catch-up after ${PLAN.catchUpWrites} missed writes (median)`, unit: 'ms', pick: (r) => r.catchUp.medianMs },
  { metric: 'catch-up (worst)', unit: 'ms', pick: (r) => r.catchUp.worstMs },
  { metric: 'catch-up, from the node\'s start banner (median)', unit: 'ms', pick: (r) => median(r.catchUp.samples.map((s) => s.afterStartMs)) },
  { metric: 'RSS per node, idle (median)', unit: 'MB', pick: (r) => r.rssBytes.idleMedian / MB },
  { metric: 'RSS per node, loaded (max)', unit: 'MB', pick: (r) => r.rssBytes.loadedMax / MB },
  { metric: 'RSS all nodes, loaded', unit: 'MB', pick: (r) => r.rssBytes.total / MB },
  { metric: 'start and mesh all nodes', unit: 'ms', pick: (r) => r.startMs }
]

const format = (value: number): string => !Number.isFinite(value) ? String(value) : Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2)
const header = ['metric', `${SMALL} nodes`, `${LARGE} nodes`, `${LARGE}/${SMALL}`, 'unit']
const cells = figures.map((f) => [f.metric, format(f.pick(small)), format(f.pick(large)), `${format(f.pick(large) / f.pick(small))}x`, f.unit])
const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)))
const line = (c: string[]): string => c.map((cell, i) => i >= 1 && i <= 3 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
log(`\nbench:scale: ${SMALL} vs ${LARGE} nodes, one network namespace each on a bridge${quick ? ' (quick)' : ''}`)
log(line(header))
for (const c of cells) log(line(c))
log(`swarm: ${large.failover.voters} voters + ${large.failover.workers} non-voting workers at ${LARGE} nodes, ${small.failover.voters} + ${small.failover.workers} at ${SMALL}`)
log(`load average (1 min): ${SMALL} nodes ${small.loadAverage.start.toFixed(1)} → ${small.loadAverage.end.toFixed(1)}, ${LARGE} nodes ${large.loadAverage.start.toFixed(1)} → ${large.loadAverage.end.toFixed(1)}`)
const scope = large.scopedReplication
if (scope !== undefined) {
  log(`scoped replication at ${LARGE} nodes, ${scope.swarms} swarms of ${scope.swarmSize} (${scope.entriesPerSwarm} x ${scope.valueBytes} B each): ` +
    `a member received ${(scope.scopedPerNodeMedianBytes / 1024).toFixed(0)} KiB (median) of swarm namespaces, against ` +
    `${(scope.unscopedEquivalentPerNodeBytes / 1024).toFixed(0)} KiB unscoped (${scope.swarms} x the ${(scope.networkWidePerNodeMedianBytes / 1024).toFixed(0)} KiB ` +
    `a node received of the same volume written network-wide): ${(scope.savedPerNodeBytes / 1024).toFixed(0)} KiB saved per node, ratio ` +
    `${scope.ratio.toFixed(2)}; non-members received at most ${scope.outsiderMaxBytes} B of other swarms' namespaces`)
}
const totalMs = performance.now() - benchStarted
log(`whole bench: ${(totalMs / 1000).toFixed(0)} s`)

const rows: BenchRow[] = figures.flatMap((f) => [
  { metric: `${f.metric} (${SMALL} nodes)`, value: f.pick(small), unit: f.unit },
  { metric: `${f.metric} (${LARGE} nodes)`, value: f.pick(large), unit: f.unit },
  { metric: `${f.metric} (${LARGE}/${SMALL})`, value: f.pick(large) / f.pick(small), unit: 'x' }
])
if (scope !== undefined) {
  const swarmsOf = `${LARGE} nodes, ${scope.swarms} swarms of ${scope.swarmSize}`
  rows.push(
    { metric: `scoped replication: swarm bytes received per member (${swarmsOf}, median)`, value: scope.scopedPerNodeMedianBytes / 1024, unit: 'KiB' },
    { metric: `unscoped equivalent per node (${swarmsOf})`, value: scope.unscopedEquivalentPerNodeBytes / 1024, unit: 'KiB' },
    { metric: `scoped replication: bytes saved per node (${swarmsOf})`, value: scope.savedPerNodeBytes / 1024, unit: 'KiB' },
    { metric: 'scoped / unscoped equivalent', value: scope.ratio, unit: 'x' },
    { metric: 'bytes a non-member received of other swarms\' namespaces (max)', value: scope.outsiderMaxBytes, unit: 'B' }
  )
}
await writeResults('scale', rows, {
  nodes: LARGE,
  baselineNodes: SMALL,
  quick,
  plan: PLAN,
  nodeConfig: NODE_CONFIG,
  totalMs,
  runs: results
})
