/**
 * NAT traversal benchmark (`npm run bench:nat`, root only): real `peerflow start` processes in
 * network namespaces, a public relay and two homes behind masquerading routers (the topology of
 * test/nat-traversal.test.ts), with `tc netem` adding 20 ms each way on each home's link where the
 * kernel has netem.
 *
 * Per round, on a fresh topology:
 * 1. both NATs strict: time from starting the two home nodes to an admitted (usable) connection
 *    between them, which goes through the relay; then replicated-write latency over it;
 * 2. home B's router forwards its port and B, restarted, announces it: time from B's start to a
 *    direct connection; then replicated-write latency over it.
 * Write latency is from the write request on one home to the value being readable on the other
 * (polled every 2 ms), alternating directions. The relayed/direct ratio compares medians of the
 * same run. BENCH_QUICK=1 runs one round with fewer writes.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNetworkSecret } from '../node/admission/network-secret.ts'
import { api, createNatTopology, netnsSupport, startNodeInNamespace, waitFor, type NatTopology, type NsNode } from '../test/helpers/netns.ts'
import { median, percentile, printRows, writeResults, type BenchRow } from './lib/report.ts'

const quick = process.env.BENCH_QUICK === '1'
const ROUNDS = quick ? 1 : 3
const WRITES = quick ? 10 : 40
const DELAY_MS = 20
const PORT = 4433

interface PeerRow { peerId: string, route: 'direct' | 'relayed', admitted: boolean }

function listen (): string[] {
  return ['--listen', `/ip6/::/tcp/${PORT}`, '--listen', `/ip6/::/udp/${PORT}/quic-v1`]
}

async function connected (node: NsNode, peerId: string, route?: 'direct' | 'relayed'): Promise<PeerRow | undefined> {
  const { peers } = await api<{ peers: PeerRow[] }>(node, 'GET', '/peers')
  return peers.find((peer) => peer.peerId === peerId && peer.admitted && (route === undefined || peer.route === route))
}

/** Write on `from`, poll `to` until it has the value: milliseconds. */
async function writeLatency (from: NsNode, to: NsNode, key: string): Promise<number> {
  const value = `${key}-${Math.random()}`
  const started = performance.now()
  await api(from, 'POST', '/memory/bench', { key, value })
  for (;;) {
    try {
      const { entry } = await api<{ entry: { value: unknown } }>(to, 'GET', `/memory/bench/${key}`)
      if (entry.value === value) return performance.now() - started
    } catch {}
    if (performance.now() - started > 20_000) throw new Error(`write ${key} did not replicate within 20 s`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

async function latencies (a: NsNode, b: NsNode, label: string): Promise<number[]> {
  // One write each way first: the namespace and its gossip topic are set up on both sides.
  await writeLatency(a, b, `${label}-warm-a`)
  await writeLatency(b, a, `${label}-warm-b`)
  const samples: number[] = []
  for (let i = 0; i < WRITES; i++) samples.push(i % 2 === 0 ? await writeLatency(a, b, `${label}-${i}`) : await writeLatency(b, a, `${label}-${i}`))
  return samples
}

interface Round {
  relayedReadyMs: number
  directReadyMs: number
  relayed: number[]
  direct: number[]
  netem: boolean
}

async function round (index: number): Promise<Round> {
  const net: NatTopology = await createNatTopology()
  const dir = await mkdtemp(join(tmpdir(), 'peerflow-bench-nat-'))
  const nodes: NsNode[] = []
  try {
    const secret = join(dir, 'network.secret')
    await createNetworkSecret(secret)
    const quiet = { PEERFLOW_LOG_LEVEL: 'warn' }
    await mkdir(join(dir, 'relay'), { recursive: true })
    await writeFile(join(dir, 'relay', 'peerflow.json'), '{}')
    const relay = await startNodeInNamespace(net.pub.ns, ['--data', join(dir, 'relay'), ...listen(), '--relay', '--network-secret-file', secret, '--embedder', 'hash'], quiet)
    nodes.push(relay)
    const relayAddr = `/ip6/${net.pub.addr}/tcp/${PORT}/p2p/${relay.peerId}`
    const netem = (await net.delay(net.homeA, DELAY_MS)) && (await net.delay(net.homeB, DELAY_MS))
    const homeArgs = (name: string, extra: string[] = []): string[] => [
      '--data', join(dir, name), ...listen(), '--bootstrap', relayAddr, '--network-secret-file', secret, '--embedder', 'hash', ...extra
    ]

    const started = performance.now()
    const [homeA, firstB] = await Promise.all([
      startNodeInNamespace(net.homeA.ns, homeArgs('home-a'), quiet),
      startNodeInNamespace(net.homeB.ns, homeArgs('home-b'), quiet)
    ])
    nodes.push(homeA, firstB)
    await waitFor('A and B through the relay', async () => await connected(homeA, firstB.peerId, 'relayed'), 60_000, 20)
    const relayedReadyMs = performance.now() - started
    const relayed = await latencies(homeA, firstB, `r${index}`)

    await net.forwardPort(net.homeB, PORT)
    await firstB.stop()
    nodes.splice(nodes.indexOf(firstB), 1)
    const restarted = performance.now()
    const homeB = await startNodeInNamespace(net.homeB.ns, homeArgs('home-b', [
      '--announce', `/ip6/${net.homeB.publicAddr}/tcp/${PORT}`, '--announce', `/ip6/${net.homeB.publicAddr}/udp/${PORT}/quic-v1`
    ]), quiet)
    nodes.push(homeB)
    await waitFor('A and B directly', async () => await connected(homeA, homeB.peerId, 'direct'), 60_000, 20)
    const directReadyMs = performance.now() - restarted
    const direct = await latencies(homeA, homeB, `d${index}`)
    return { relayedReadyMs, directReadyMs, relayed, direct, netem }
  } finally {
    await Promise.all(nodes.map(async (node) => { await node.stop('SIGKILL') }))
    await net.teardown()
    const left = await net.leftovers()
    if (left.length > 0) process.stderr.write(`warning: left behind: ${left.join(', ')}\n`)
    await rm(dir, { recursive: true, force: true })
  }
}

const support = await netnsSupport()
if (!support.ok) {
  process.stdout.write(`bench:nat needs root and network namespaces: ${support.why}\n`)
  process.exit(0)
}

const rounds: Round[] = []
for (let i = 0; i < ROUNDS; i++) {
  process.stdout.write(`round ${i + 1}/${ROUNDS}\n`)
  rounds.push(await round(i))
}
const relayed = rounds.flatMap((r) => r.relayed)
const direct = rounds.flatMap((r) => r.direct)
const netem = rounds.every((r) => r.netem)
const delayNote = netem ? `+${DELAY_MS} ms each way on each NAT link` : 'no added delay: this kernel has no netem qdisc'
const rows: BenchRow[] = [
  { metric: 'start -> usable relayed connection (median)', value: median(rounds.map((r) => r.relayedReadyMs)), unit: 'ms' },
  { metric: 'restart behind forwarding NAT -> direct connection (median)', value: median(rounds.map((r) => r.directReadyMs)), unit: 'ms' },
  { metric: 'replicated write, relayed, p50', value: median(relayed), unit: 'ms' },
  { metric: 'replicated write, relayed, p95', value: percentile(relayed, 95), unit: 'ms' },
  { metric: 'replicated write, direct, p50', value: median(direct), unit: 'ms' },
  { metric: 'replicated write, direct, p95', value: percentile(direct, 95), unit: 'ms' },
  { metric: 'relayed / direct (p50)', value: median(relayed) / median(direct), unit: 'x' },
  { metric: 'network', value: delayNote, unit: '' }
]
printRows(`NAT traversal (${ROUNDS} round${ROUNDS === 1 ? '' : 's'}, ${WRITES} writes per route per round${quick ? ', BENCH_QUICK' : ''})`, rows)
await writeResults('nat', rows, {
  quick,
  netem,
  delayMsEachWay: netem ? DELAY_MS : 0,
  rounds: rounds.map((r) => ({ relayedReadyMs: r.relayedReadyMs, directReadyMs: r.directReadyMs })),
  samples: { relayed, direct }
})
