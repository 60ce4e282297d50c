/**
 * npm run bench:memory — replicated memory, measured on real nodes over QUIC on 127.0.0.1:
 *
 * - replicated write throughput: writes on A (`memory.put`, bounded concurrency) until all three
 *   replicas hold every entry, against raw Yjs applying the same number of single-entry updates to
 *   a Y.Map in a child process with V8's default flags (median of 5 runs: the first, cold one is
 *   reported beside it); goal ≥ 33 % of raw. The clock starts once the namespace has reached
 *   every replica and their one-off resync for a newly learned namespace is over (steady state);
 *   three rounds, median reported.
 *   Measured with the two other replicas in processes of their own (the figure that counts) and
 *   with all three in this process; the rate of one node with no peers is reported beside it, to
 *   show how much of the gap is the local store.
 * - write-to-all-replicas latency with 5 nodes: from `put` resolving on the writer until the entry
 *   is visible on the 4 others (noticed by `memory.onUpdate` listeners, no polling); goals
 *   p50 < 10 ms, p99 < 50 ms. Measured twice: with the 4 replicas in separate processes (the
 *   figure that counts: every node has its own event loop, as in a deployment), and with all 5
 *   in this process.
 * - catch-up: a node stopped while A takes 100k writes, restarted from its data dir and rejoined;
 *   time until it holds all of them; goal ≤ 2 s with A and B in processes of their own (the figure
 *   that counts), ≤ 1.5 s with all three in this process. A and B settle first (their deferred
 *   compaction of the burst runs before the clock starts). The bytes the laggard received are
 *   compared with the size of the state it ends with.
 *
 * - convergence after heal: five node processes, one faulted at a time (block/unblock, SIGSTOP/
 *   SIGCONT, SIGKILL/restart) while the others write, median and worst of 10 heals each; goal
 *   <= 2 s. See bench/lib/heal.ts.
 *
 * - growth under churn (bench/lib/churn.ts): 50k tasks through the tasks namespace; doc and
 *   on-disk size and CPU per task at the start and the end, without and with epoch rollover.
 *
 * Every node here runs with the V8 flags `peerflow start` gives a node (node/bin/node-flags.js):
 * the script re-executes itself with them, and its replica processes inherit them. The raw Yjs
 * baseline does not get them: it is plain Yjs as anyone would run it.
 *
 * In-process nodes share one event loop, so their throughput and the catch-up figures include the
 * other nodes' work; a deployment spreads it over machines (here, separate processes still share
 * two cores). BENCH_QUICK=1 runs smaller sizes (goals are still shown, for orientation only).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import * as Y from 'yjs'
import type { NodeConfig } from '../node/config/config.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { MEMORY_GOSSIP_LIMITS, memoryTopic } from '../protocols/memory-gossip.ts'
import { connectAll, MEMORY_TEST_CONFIG } from '../test/helpers/memory.ts'
import { quicAddr, TestNetwork } from '../test/helpers/nodes.ts'
import { healOptionsFromEnv, measureHeals } from './lib/heal.ts'
import { median, percentile, printRows, writeResults, type BenchRow } from './lib/report.ts'
import { churnRows } from './lib/churn.ts'
import { nodeFlags, reexecWithFlags } from '../node/bin/node-flags.js'

const quick = process.env.BENCH_QUICK === '1'
const SIZES = quick
  ? { writes: 3_000, latencySamples: 60, catchUp: 10_000 }
  : { writes: 20_000, latencySamples: 300, catchUp: 100_000 }
/** Writes in flight at once on the writer: enough to fill the store's batches, bounded like a real client pool. */
const CONCURRENCY = 256
/** Throughput rounds per variant (median reported), and raw Yjs runs (median is the baseline). */
const THROUGHPUT_ROUNDS = quick ? 1 : 3
const RAW_YJS_RUNS = 5
const NEVER = new AbortController().signal

const THROUGHPUT_NS = 'bench-throughput'
const LATENCY_NS = 'bench-latency'
const CATCH_UP_NS = 'bench-catch-up'
/** 100k entries is the default maxEntries; the catch-up namespace gets room for exactly that many and more. */
const BENCH_CONFIG: Partial<NodeConfig> = { ...MEMORY_TEST_CONFIG, namespaces: { [CATCH_UP_NS]: { maxEntries: 1_000_000 } } }

/** A value shaped like what agents store: a short record, not a bare number. */
function valueFor (i: number): { i: number, text: string, tags: string[] } {
  return { i, text: `observation ${i}: the build passed after pinning the toolchain`, tags: ['bench', `shard-${i % 16}`] }
}

/** Milliseconds on a clock every process on this machine shares, with sub-millisecond resolution. */
const now = (): number => performance.timeOrigin + performance.now()

async function withTimeout<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms: ${what}`)) }, ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function entriesIn (node: PeerflowNode, namespace: string): number {
  return node.memory.entryCount(namespace)
}

/** Resolves once `node` stores `count` entries of `namespace`, checked on each of its updates. */
async function whenHolds (node: PeerflowNode, namespace: string, count: number): Promise<number> {
  if (entriesIn(node, namespace) >= count) return now()
  return new Promise((resolve) => {
    const unsubscribe = node.memory.onUpdate((updated) => {
      if (updated !== namespace || entriesIn(node, namespace) < count) return
      unsubscribe()
      resolve(now())
    })
  })
}

/** `count` puts on `node`, at most CONCURRENCY in flight. */
async function writeConcurrently (node: PeerflowNode, namespace: string, count: number, prefix: string): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      await node.memory.put(namespace, `${prefix}${i}`, valueFor(i), { author: node.peerId })
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}

// --- throughput ---------------------------------------------------------------------------------

/** Single-entry updates as the store produces them (one Entry per key in the `entries` map). */
function singleEntryUpdates (count: number, author: string): Uint8Array[] {
  const source = new Y.Doc()
  const entries = source.getMap('entries')
  const updates: Uint8Array[] = []
  source.on('update', (update: Uint8Array) => { updates.push(update) })
  const at = Date.now()
  for (let i = 0; i < count; i++) {
    const key = `w${i}`
    entries.set(key, { key, value: valueFor(i), author, createdAt: at, updatedAt: at, tags: [] })
  }
  source.destroy()
  return updates
}

/** Raw Yjs applies/s of `count` single-entry updates into one fresh doc, each run: the first is cold (JIT), the median is the baseline. */
function rawYjsRatesHere (count: number, runs: number): { rates: number[], median: number } {
  const rates: number[] = []
  for (let run = 0; run < runs; run++) {
    const updates = singleEntryUpdates(count, '12D3KooWBenchAuthor')
    const target = new Y.Doc()
    const started = now()
    for (const update of updates) Y.applyUpdate(target, update)
    const elapsed = now() - started
    if (target.getMap('entries').size !== updates.length) throw new Error('raw Yjs run lost updates')
    target.destroy()
    rates.push(updates.length / (elapsed / 1000))
  }
  return { rates, median: median(rates) }
}

/** rawYjsRatesHere in a child process with V8's default flags, not the nodes' (see the top of this file). */
async function rawYjsRates (count: number, runs: number): Promise<{ rates: number[], median: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['raw-yjs', String(count), String(runs)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = new Promise<never>((_resolve, reject) => { child.once('exit', (code) => { reject(new Error(`raw Yjs process exited with ${code}`)) }) })
  const answered = new Promise<{ rates: number[], median: number }>((resolve) => { child.once('message', (message) => { resolve(message as { rates: number[], median: number }) }) })
  return withTimeout(Promise.race([answered, exited]), 300_000, 'the raw Yjs runs')
}

async function localPutRate (net: TestNetwork, count: number): Promise<number> {
  const alone = await net.start(BENCH_CONFIG)
  const started = now()
  await writeConcurrently(alone, THROUGHPUT_NS, count, 'solo')
  const rate = count / ((now() - started) / 1000)
  await alone.stop()
  return rate
}

async function replicatedRate (nodes: PeerflowNode[], count: number): Promise<ThroughputRound & { rate: number, rates: number[] }> {
  const [writer, ...others] = nodes as [PeerflowNode, ...PeerflowNode[]]
  // Steady state: the namespace exists everywhere and gossip for it flows before the clock starts.
  await waitForMesh(writer, others.map((node) => node.peerId), THROUGHPUT_NS)
  await withTimeout(Promise.all(others.map(async (node) => whenHolds(node, THROUGHPUT_NS, 1))), 30_000, 'the namespace reaches every node')
  await afterNewTopicResync()
  return medianRound(async (round) => {
    const started = now()
    const replicated = Promise.all(nodes.map(async (node) => whenHolds(node, THROUGHPUT_NS, 1 + count * (round + 1))))
    await writeConcurrently(writer, THROUGHPUT_NS, count, `w${round}-`)
    const writeMs = now() - started
    const done = Math.max(...await withTimeout(replicated, 120_000, 'all replicas hold every written entry'))
    return { writeMs, totalMs: done - started }
  }, count)
}

interface ThroughputRound { writeMs: number, totalMs: number }

/**
 * Runs THROUGHPUT_ROUNDS rounds of `count` writes (round r writes keys of its own) and returns the
 * round of median rate, with every round's rate: one round moves with the machine's noise.
 */
async function medianRound (round: (index: number) => Promise<ThroughputRound>, count: number): Promise<ThroughputRound & { rate: number, rates: number[] }> {
  const rounds: Array<ThroughputRound & { rate: number }> = []
  for (let index = 0; index < THROUGHPUT_ROUNDS; index++) {
    const measured = await round(index)
    rounds.push({ ...measured, rate: count / (measured.totalMs / 1000) })
  }
  const byRate = [...rounds].sort((a, b) => a.rate - b.rate)
  return { ...byRate[Math.floor(byRate.length / 2)] as ThroughputRound & { rate: number }, rates: rounds.map((measured) => measured.rate) }
}

// --- latency ------------------------------------------------------------------------------------

/** Something that reports when a key becomes visible on one replica. */
interface Observer {
  /** Resolves once the observer is watching `key`; `seen` then resolves with the time it appeared. */
  watch: (key: string) => Promise<{ seen: Promise<number> }>
}

function inProcessObserver (node: PeerflowNode): Observer {
  return {
    watch: async (key) => ({
      seen: new Promise<number>((resolve) => {
        if (node.memory.get(LATENCY_NS, key) !== undefined) { resolve(now()); return }
        const unsubscribe = node.memory.onUpdate((namespace) => {
          if (namespace !== LATENCY_NS || node.memory.get(LATENCY_NS, key) === undefined) return
          unsubscribe()
          resolve(now())
        })
      })
    })
  }
}

async function latencySamples (writer: PeerflowNode, observers: Observer[], samples: number): Promise<number[]> {
  const latencies: number[] = []
  for (let i = 0; i < samples + 5; i++) {
    const key = `l${i}`
    const watches = await Promise.all(observers.map(async (observer) => observer.watch(key)))
    await writer.memory.put(LATENCY_NS, key, valueFor(i), { author: writer.peerId })
    const resolved = now()
    const seenAt = await withTimeout(Promise.all(watches.map(async ({ seen }) => seen)), 30_000, `replicas see ${key}`)
    // The first writes warm up the gossip mesh and JIT; they are not samples.
    if (i >= 5) latencies.push(Math.max(...seenAt) - resolved)
  }
  return latencies
}

/** Protocol between this script and its replica processes (fork IPC). */
type ToReplica =
  { type: 'join', addr: string } | { type: 'watch', key: string } | { type: 'hold', namespace: string, count: number } |
  { type: 'write', namespace: string, count: number, prefix: string } | { type: 'settle' } | { type: 'stop' }
type FromReplica =
  { type: 'ready', addr: string, peerId: string } | { type: 'joined' } | { type: 'watching', key: string } |
  { type: 'seen', key: string, at: number } | { type: 'holds', namespace: string, at: number } | { type: 'written' } | { type: 'settled' } |
  { type: 'failed', message: string }

/** Runs in a forked process: one node that reports when watched keys appear. */
async function runReplica (): Promise<void> {
  const net = new TestNetwork()
  const node = await net.start(BENCH_CONFIG)
  const send = (message: FromReplica): void => { process.send?.(message) }
  const watched = new Set<string>()
  node.memory.onUpdate((namespace) => {
    if (namespace !== LATENCY_NS) return
    for (const key of watched) {
      if (node.memory.get(LATENCY_NS, key) === undefined) continue
      watched.delete(key)
      send({ type: 'seen', key, at: now() })
    }
  })
  process.on('message', (received: unknown) => {
    const message = received as ToReplica
    if (message.type === 'join') {
      node.join(multiaddr(message.addr), NEVER).then(() => { send({ type: 'joined' }) }, (err: Error) => { send({ type: 'failed', message: err.message }) })
    } else if (message.type === 'write') {
      writeConcurrently(node, message.namespace, message.count, message.prefix).then(() => { send({ type: 'written' }) }, (err: Error) => { send({ type: 'failed', message: err.message }) })
    } else if (message.type === 'hold') {
      void whenHolds(node, message.namespace, message.count).then((at) => { send({ type: 'holds', namespace: message.namespace, at }) })
    } else if (message.type === 'settle') {
      node.memory.settle().then(() => { send({ type: 'settled' }) }, (err: Error) => { send({ type: 'failed', message: err.message }) })
    } else if (message.type === 'watch') {
      send({ type: 'watching', key: message.key })
      if (node.memory.get(LATENCY_NS, message.key) !== undefined) send({ type: 'seen', key: message.key, at: now() })
      else watched.add(message.key)
    } else {
      void net.cleanup().then(() => process.exit(0))
    }
  })
  send({ type: 'ready', addr: quicAddr(node), peerId: node.peerId })
}

interface ReplicaProcess extends Observer {
  child: ChildProcess
  addr: string
  peerId: string
  request: (message: ToReplica, answer: FromReplica['type']) => Promise<FromReplica>
}

async function forkReplica (): Promise<ReplicaProcess> {
  const child = fork(fileURLToPath(import.meta.url), ['replica'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const seen = new Map<string, (at: number) => void>()
  const waiting: Array<{ type: FromReplica['type'], resolve: (message: FromReplica) => void, reject: (err: Error) => void }> = []
  const failAll = (err: Error): void => { for (const waiter of waiting.splice(0)) waiter.reject(err) }
  child.on('exit', (code) => { failAll(new Error(`replica process exited with ${code}`)) })
  child.on('message', (received: unknown) => {
    const message = received as FromReplica
    if (message.type === 'seen') { seen.get(message.key)?.(message.at); seen.delete(message.key); return }
    if (message.type === 'failed') { failAll(new Error(`replica process failed: ${message.message}`)); return }
    const index = waiting.findIndex((waiter) => waiter.type === message.type)
    if (index >= 0) waiting.splice(index, 1)[0]?.resolve(message)
  })
  const next = async (type: FromReplica['type']): Promise<FromReplica> =>
    withTimeout(new Promise((resolve, reject) => { waiting.push({ type, resolve, reject }) }), 60_000, `replica answers ${type}`)
  const ready = await next('ready') as Extract<FromReplica, { type: 'ready' }>
  const request = async (message: ToReplica, answer: FromReplica['type']): Promise<FromReplica> => {
    const answered = next(answer)
    child.send(message)
    return answered
  }
  return {
    child,
    addr: ready.addr,
    peerId: ready.peerId,
    request,
    watch: async (key) => {
      const seenAt = new Promise<number>((resolve) => { seen.set(key, resolve) })
      await request({ type: 'watch', key }, 'watching')
      return { seen: seenAt }
    }
  }
}

/** Runs `measure` with a writer in this process and `count` replica processes, all connected to each other. */
async function withReplicaProcesses<T> (count: number, measure: (writer: PeerflowNode, replicas: ReplicaProcess[]) => Promise<T>): Promise<T> {
  const net = new TestNetwork()
  const replicas: ReplicaProcess[] = []
  try {
    const writer = await net.start(BENCH_CONFIG)
    replicas.push(...await Promise.all(Array.from({ length: count }, forkReplica)))
    // Every replica joins the writer and the replicas before it: a full mesh, as in connectAll.
    for (const [index, replica] of replicas.entries()) {
      for (const addr of [quicAddr(writer), ...replicas.slice(0, index).map((earlier) => earlier.addr)]) {
        await replica.request({ type: 'join', addr }, 'joined')
      }
    }
    return await measure(writer, replicas)
  } finally {
    await stopReplicas(replicas)
    await net.cleanup()
  }
}

async function stopReplicas (replicas: ReplicaProcess[]): Promise<void> {
  await Promise.all(replicas.map(async ({ child }) => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    if (child.connected) child.send({ type: 'stop' })
    await withTimeout(exited, 10_000, 'replica exits').catch(() => child.kill('SIGKILL'))
  }))
}

async function processLatencies (samples: number): Promise<number[]> {
  return withReplicaProcesses(4, async (writer, replicas) => {
    await waitForMesh(writer, replicas.map((replica) => replica.peerId))
    return latencySamples(writer, replicas, samples)
  })
}

/** Replicated throughput with the two replicas in processes of their own, each with its own event loop as in a deployment. */
async function processReplicatedRate (count: number): Promise<ThroughputRound & { rate: number, rates: number[] }> {
  return withReplicaProcesses(2, async (writer, replicas) => {
    const holdAll = async (entries: number): Promise<number[]> => Promise.all(replicas.map(async (replica) => {
      const answer = await replica.request({ type: 'hold', namespace: THROUGHPUT_NS, count: entries }, 'holds')
      return (answer as Extract<FromReplica, { type: 'holds' }>).at
    }))
    await waitForMesh(writer, replicas.map((replica) => replica.peerId), THROUGHPUT_NS)
    await withTimeout(holdAll(1), 30_000, 'the namespace reaches every replica')
    await afterNewTopicResync()
    return medianRound(async (round) => {
      const started = now()
      const replicated = holdAll(1 + count * (round + 1))
      await writeConcurrently(writer, THROUGHPUT_NS, count, `w${round}-`)
      const writeMs = now() - started
      const done = Math.max(...await withTimeout(replicated, 120_000, 'all replicas hold every written entry'))
      return { writeMs, totalMs: done - started }
    }, count)
  })
}

/**
 * A node that learns a namespace from a peer catches up once more shortly after (its subscription
 * had not spread when the first writes were gossiped; memory-gossip.ts). The throughput clock
 * starts after that one-off exchange: the figure is the steady state of a namespace in use.
 */
async function afterNewTopicResync (): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, MEMORY_GOSSIP_LIMITS.newTopicResyncMs + 1_000))
}

/** Creates `namespace` with one write and waits until the writer sees every replica subscribed to its topic. */
async function waitForMesh (writer: PeerflowNode, peers: string[], namespace = LATENCY_NS): Promise<void> {
  // The namespace does not exist yet: one write creates it everywhere through catch-up.
  await writer.memory.put(namespace, 'mesh', true, { author: writer.peerId })
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const subscribers = new Set(writer.host.services.pubsub.getSubscribers(memoryTopic(namespace)).map(String))
    if (peers.every((peer) => subscribers.has(peer))) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`replicas did not subscribe to ${namespace} within 30 s`)
}

async function inProcessLatencies (net: TestNetwork, samples: number): Promise<number[]> {
  const nodes = await Promise.all(Array.from({ length: 5 }, async () => net.start(BENCH_CONFIG)))
  await connectAll(nodes)
  const [writer, ...others] = nodes as [PeerflowNode, ...PeerflowNode[]]
  await waitForMesh(writer, others.map((node) => node.peerId))
  const latencies = await latencySamples(writer, others.map(inProcessObserver), samples)
  await Promise.all(nodes.map(async (node) => { await node.stop() }))
  return latencies
}

// --- catch-up -----------------------------------------------------------------------------------

async function catchUp (net: TestNetwork, count: number): Promise<{ fromRestartMs: number, fromJoinMs: number, writeMs: number, bytes: number }> {
  const laggardDir = await net.dataDir()
  const a = await net.start(BENCH_CONFIG)
  const b = await net.start(BENCH_CONFIG)
  let laggard = await net.start(BENCH_CONFIG, laggardDir)
  await connectAll([a, b, laggard])
  await laggard.stop()

  const writing = now()
  await writeConcurrently(a, CATCH_UP_NS, count, 'c')
  const writeMs = now() - writing
  process.stdout.write(`  ${count} writes on A in ${(writeMs / 1000).toFixed(1)} s; waiting for B\n`)
  await withTimeout(whenHolds(b, CATCH_UP_NS, count), 300_000, 'B holds every write')
  // The clock measures the laggard, not A's and B's compaction of the burst they just took.
  await Promise.all([a.memory.settle(), b.memory.settle()])

  const restarting = now()
  laggard = await net.start(BENCH_CONFIG, laggardDir)
  const caughtUp = whenHolds(laggard, CATCH_UP_NS, count)
  const joining = now()
  await laggard.join(multiaddr(quicAddr(a)), NEVER)
  const done = await withTimeout(caughtUp, 300_000, 'the restarted node holds every write')
  return { fromRestartMs: done - restarting, fromJoinMs: done - joining, writeMs, bytes: laggard.replication.stats.syncBytesReceived }
}

/** The same with A and B in processes of their own and the laggard in this one, as on three machines. */
async function processCatchUp (count: number): Promise<{ fromRestartMs: number, fromJoinMs: number, bytes: number, stateBytes: number }> {
  const net = new TestNetwork()
  const replicas: ReplicaProcess[] = []
  try {
    replicas.push(...await Promise.all([forkReplica(), forkReplica()]))
    const [a, b] = replicas as [ReplicaProcess, ReplicaProcess]
    await b.request({ type: 'join', addr: a.addr }, 'joined')
    const laggardDir = await net.dataDir()
    let laggard = await net.start(BENCH_CONFIG, laggardDir)
    for (const replica of replicas) await laggard.join(multiaddr(replica.addr), NEVER)
    await laggard.stop()

    await a.request({ type: 'write', namespace: CATCH_UP_NS, count, prefix: 'c' }, 'written')
    await b.request({ type: 'hold', namespace: CATCH_UP_NS, count }, 'holds')
    await Promise.all(replicas.map(async (replica) => replica.request({ type: 'settle' }, 'settled')))

    const restarting = now()
    laggard = await net.start(BENCH_CONFIG, laggardDir)
    const caughtUp = whenHolds(laggard, CATCH_UP_NS, count)
    const joining = now()
    await laggard.join(multiaddr(a.addr), NEVER)
    const done = await withTimeout(caughtUp, 300_000, 'the restarted node holds every write')
    // The state it ends with, encoded as a peer that has nothing would receive it.
    const stateBytes = [...laggard.memory.missingUpdates(CATCH_UP_NS, Y.encodeStateVector(new Y.Doc()))].reduce((sum, update) => sum + update.byteLength, 0)
    return { fromRestartMs: done - restarting, fromJoinMs: done - joining, bytes: laggard.replication.stats.syncBytesReceived, stateBytes }
  } finally {
    await stopReplicas(replicas)
    await net.cleanup()
  }
}

// --- report -------------------------------------------------------------------------------------

async function main (): Promise<void> {
  const rows: BenchRow[] = []
  const samples: Record<string, unknown> = { sizes: SIZES, quick, concurrency: CONCURRENCY, nodeFlags: nodeFlags() }

  process.stdout.write(`replicated write throughput: ${SIZES.writes} writes, 3 nodes\n`)
  const raw = await rawYjsRates(SIZES.writes, RAW_YJS_RUNS)
  const rawRate = raw.median
  const net = new TestNetwork()
  try {
    const soloRate = await localPutRate(net, SIZES.writes)
    const cluster = await Promise.all(Array.from({ length: 3 }, async () => net.start(BENCH_CONFIG)))
    await connectAll(cluster)
    const inProcessRate = await replicatedRate(cluster, SIZES.writes)
    await Promise.all(cluster.map(async (node) => { await node.stop() }))
    const processRate = await processReplicatedRate(SIZES.writes)
    const ratio = processRate.rate / rawRate
    rows.push(
      { metric: 'replicated writes/s (3 processes, until all hold all)', value: processRate.rate, unit: 'writes/s' },
      { metric: `raw Yjs single-entry applies/s (1 doc, own process, V8 default flags, median of ${RAW_YJS_RUNS} runs)`, value: rawRate, unit: 'applies/s' },
      { metric: 'raw Yjs single-entry applies/s, first (cold) run', value: raw.rates[0] as number, unit: 'applies/s' },
      { metric: 'replicated (3 processes) / raw Yjs', value: ratio * 100, unit: '%', goal: '>= 33 %', met: ratio >= 0.33 },
      { metric: 'replication lag after the last put (3 processes)', value: processRate.totalMs - processRate.writeMs, unit: 'ms' },
      { metric: 'replicated writes/s (3 in-process nodes)', value: inProcessRate.rate, unit: 'writes/s' },
      { metric: 'replicated (3 in-process nodes) / raw Yjs', value: inProcessRate.rate / rawRate * 100, unit: '%' },
      { metric: 'local put rate (1 node, no peers)', value: soloRate, unit: 'writes/s' }
    )
    samples.throughput = { processes: processRate, inProcess: inProcessRate, rawRate, rawRates: raw.rates, soloRate }

    process.stdout.write(`write-to-all latency: ${SIZES.latencySamples} writes, 5 nodes (4 replica processes)\n`)
    const separate = await processLatencies(SIZES.latencySamples)
    process.stdout.write('write-to-all latency: 5 in-process nodes\n')
    const together = await inProcessLatencies(net, SIZES.latencySamples)
    for (const [label, latencies] of [['5 processes', separate], ['5 in-process nodes', together]] as const) {
      rows.push(
        { metric: `write-to-all p50 (${label})`, value: median(latencies), unit: 'ms', goal: '< 10 ms', met: median(latencies) < 10 },
        { metric: `write-to-all p99 (${label})`, value: percentile(latencies, 99), unit: 'ms', goal: '< 50 ms', met: percentile(latencies, 99) < 50 }
      )
    }
    samples.latencyMs = { processes: separate, inProcess: together }

    process.stdout.write(`catch-up: a node that missed ${SIZES.catchUp} writes\n`)
    const caughtFromProcesses = await processCatchUp(SIZES.catchUp)
    const caught = await catchUp(net, SIZES.catchUp)
    rows.push(
      { metric: `catch-up of ${SIZES.catchUp} missed writes (restart to all; A, B in processes)`, value: caughtFromProcesses.fromRestartMs, unit: 'ms', goal: '<= 2000 ms', met: caughtFromProcesses.fromRestartMs <= 2000 },
      { metric: 'catch-up from join (A, B in processes)', value: caughtFromProcesses.fromJoinMs, unit: 'ms' },
      { metric: `catch-up of ${SIZES.catchUp} missed writes (restart to all; 3 in-process nodes)`, value: caught.fromRestartMs, unit: 'ms', goal: '<= 1500 ms', met: caught.fromRestartMs <= 1500 },
      { metric: 'catch-up bytes on the wire / state size (A, B in processes)', value: caughtFromProcesses.bytes / caughtFromProcesses.stateBytes * 100, unit: '%' },
      { metric: 'catch-up bytes received', value: caught.bytes / 1024 / 1024, unit: 'MiB' },
      { metric: `writing the ${SIZES.catchUp} entries on A`, value: caught.writeMs, unit: 'ms' }
    )
    samples.catchUp = { processes: caughtFromProcesses, inProcess: caught }

    process.stdout.write('convergence after heal: 5 node processes (bench/lib/heal.ts; alone: npm run bench:heal)\n')
    const heal = await measureHeals(healOptionsFromEnv(), (line) => { process.stdout.write(line) })
    rows.push(...heal.rows)
    samples.heal = heal.samples
  } finally {
    await net.cleanup()
  }

  const churn = await churnRows(quick ? 5_000 : 50_000)
  rows.push(...churn.rows)
  samples.churn = churn.samples

  printRows(`replicated memory${quick ? ' (BENCH_QUICK: small sizes, goals for orientation only)' : ''}`, rows)
  await writeResults('memory', rows, { samples })
}

if (process.argv[2] === 'replica') {
  await runReplica()
} else if (process.argv[2] === 'raw-yjs') {
  process.send?.(rawYjsRatesHere(Number(process.argv[3]), Number(process.argv[4])), () => process.exit(0))
} else {
  reexecWithFlags(nodeFlags())
  await main()
  // libp2p leaves unref'd handles; the figures are written.
  process.exit(0)
}
