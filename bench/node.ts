/**
 * npm run bench:node — cold start to listening, idle RSS, QUIC vs TCP ping RTT (same run), and the
 * CLI round trip of `peerflow status` against a running node.
 * Nodes run as in production: the `peerflow` bin on the build in dist/ (rebuilt first when it is
 * not current, so the figure is never of the sources by accident) with its V8 flags. Idle RSS is
 * also measured, in the same run, for the build without the idle memory saver
 * (node/core/idle-memory-saver.ts), and for the sources through type stripping without the flags
 * and without the saver (how a node ran before), as the baselines of the ratios.
 * BENCH_QUICK=1 shortens the idle wait and sample counts.
 */
import { spawnSync } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { builtCliIsCurrent } from '../node/bin/built-cli.js'
import { multiaddr } from '@multiformats/multiaddr'
import { runCli, startNodeProcess, type NodeProcess } from '../test/helpers/cli.ts'
import { quicAddr, tcpAddr, TestNetwork, tempDir } from '../test/helpers/nodes.ts'
import { median, percentile, printRows, writeResults, type BenchRow } from './lib/report.ts'

const quick = process.env.BENCH_QUICK === '1'
const LISTEN = ['--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0']

async function coldStarts (runs: number): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const dir = await tempDir()
    const started = performance.now()
    const node = await startNodeProcess(['--data', dir, ...LISTEN])
    samples.push(performance.now() - started)
    await node.stop()
    await rm(dir, { recursive: true, force: true })
    process.stdout.write(`  cold start ${i + 1}/${runs}: ${samples.at(-1)?.toFixed(0)} ms\n`)
  }
  return samples
}

async function rssOf (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) * 1024
}

async function cliRoundTrips (node: NodeProcess, runs: number): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    const result = await runCli(['status', '--api', node.api])
    if (result.code !== 0) throw new Error(`peerflow status failed: ${result.stderr}`)
    samples.push(performance.now() - started)
  }
  return samples
}

async function pingRtts (pings: number): Promise<{ quic: number[], tcp: number[] }> {
  const net = new TestNetwork()
  try {
    const target = await net.start()
    const quicOnly = await net.start({ tcp: false })
    const tcpOnly = await net.start({ quic: false })
    const never = new AbortController().signal
    await quicOnly.join(multiaddr(quicAddr(target)), never)
    await tcpOnly.join(multiaddr(tcpAddr(target)), never)
    const quic: number[] = []
    const tcp: number[] = []
    // One timed ping; the connection monitor pings the same peer now and then, and libp2p allows
    // one ping stream at a time, so a ping that collides with it is taken again.
    const rtt = async (from: typeof target): Promise<number> => {
      for (;;) {
        const started = performance.now()
        try {
          await from.host.services.ping.ping(target.host.peerId)
          return performance.now() - started
        } catch (err) {
          if ((err as Error).name !== 'TooManyOutboundProtocolStreamsError') throw err
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
      }
    }
    // Interleaved so that machine noise hits both transports alike.
    for (let i = 0; i < pings; i++) {
      quic.push(await rtt(quicOnly))
      tcp.push(await rtt(tcpOnly))
    }
    return { quic, tcp }
  } finally {
    await net.cleanup()
  }
}

/** The baselines: the build without the idle memory saver; the sources through type stripping, default V8 heap sizing, no saver. */
const SAVER_OFF = { PEERFLOW_IDLE_MEMORY_SAVER: 'off' }
const FROM_SOURCES = { PEERFLOW_FROM_SOURCE: '1', PEERFLOW_NODE_FLAGS: '', ...SAVER_OFF }
const idleMs = quick ? 5_000 : 30_000

/** RSS of a node that has idled `idleMs` after start; runs `whileUp` on it before stopping it. */
async function idleRss (env: NodeJS.ProcessEnv, whileUp?: (node: NodeProcess) => Promise<void>): Promise<number> {
  const dir = await tempDir()
  const node = await startNodeProcess(['--data', dir, ...LISTEN], env)
  try {
    await new Promise((resolve) => setTimeout(resolve, idleMs))
    const rss = await rssOf(node.child.pid as number)
    await whileUp?.(node)
    return rss
  } finally {
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

if (!builtCliIsCurrent()) {
  process.stdout.write('  dist/ is missing or older than the sources: npm run build\n')
  const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' })
  if (build.status !== 0 || !builtCliIsCurrent()) throw new Error('npm run build failed: the bench measures the build, not the sources')
}
const load = loadavg()
const starts = await coldStarts(5)
process.stdout.write(`  idling ${idleMs / 1000} s for each RSS reading (build, build without the saver, sources)…\n`)
let cli: number[] = []
const rss = await idleRss({}, async (node) => { cli = await cliRoundTrips(node, quick ? 5 : 15) })
const saverOffRss = await idleRss(SAVER_OFF)
const sourceRss = await idleRss(FROM_SOURCES)
const rtt = await pingRtts(quick ? 50 : 300)

const quicMedian = median(rtt.quic)
const tcpMedian = median(rtt.tcp)
const rows: BenchRow[] = [
  { metric: 'cold start to listening (median of 5)', value: median(starts), unit: 'ms', goal: '< 1500', met: median(starts) < 1500 },
  { metric: `idle RSS after ${idleMs / 1000} s (bin on dist/, V8 flags)`, value: rss / 1024 / 1024, unit: 'MB', goal: '< 120', met: rss / 1024 / 1024 < 120 },
  { metric: `idle RSS after ${idleMs / 1000} s (bin on dist/, V8 flags, idle memory saver off)`, value: saverOffRss / 1024 / 1024, unit: 'MB' },
  { metric: 'idle RSS with / without the idle memory saver', value: rss / saverOffRss, unit: 'x' },
  { metric: `idle RSS after ${idleMs / 1000} s (sources, type stripping, no flags, no saver)`, value: sourceRss / 1024 / 1024, unit: 'MB' },
  { metric: 'idle RSS build / sources', value: rss / sourceRss, unit: 'x' },
  { metric: 'CLI `peerflow status` round trip (median)', value: median(cli), unit: 'ms', goal: '< 300', met: median(cli) < 300 },
  { metric: 'CLI round trip p90', value: percentile(cli, 90), unit: 'ms' },
  { metric: 'ping RTT over QUIC (median)', value: quicMedian, unit: 'ms' },
  { metric: 'ping RTT over TCP (median)', value: tcpMedian, unit: 'ms' },
  { metric: 'ping RTT p99 QUIC / TCP', value: `${percentile(rtt.quic, 99).toFixed(2)} / ${percentile(rtt.tcp, 99).toFixed(2)}`, unit: 'ms' },
  { metric: 'QUIC / TCP RTT ratio (medians)', value: quicMedian / tcpMedian, unit: 'x' },
  { metric: 'load average (1 min) at the start', value: load[0] as number, unit: '' }
]
printRows('bench:node (loopback, 2 shared cores: medians)', rows)
await writeResults('node', rows, { samples: { coldStartMs: starts, cliMs: cli, quicRttMs: rtt.quic, tcpRttMs: rtt.tcp }, idleRssBytes: rss, saverOffIdleRssBytes: saverOffRss, sourceIdleRssBytes: sourceRss, loadAverage: load })
