/**
 * npm run bench:node — cold start to listening, idle RSS, QUIC vs TCP ping RTT (same run), and the
 * CLI round trip of `peerflow status` against a running node.
 * BENCH_QUICK=1 shortens the idle wait and sample counts.
 */
import { readFile, rm } from 'node:fs/promises'
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
    // Interleaved so that machine noise hits both transports alike.
    for (let i = 0; i < pings; i++) {
      let started = performance.now()
      await quicOnly.host.services.ping.ping(target.host.peerId)
      quic.push(performance.now() - started)
      started = performance.now()
      await tcpOnly.host.services.ping.ping(target.host.peerId)
      tcp.push(performance.now() - started)
    }
    return { quic, tcp }
  } finally {
    await net.cleanup()
  }
}

const starts = await coldStarts(5)
const dir = await tempDir()
const node = await startNodeProcess(['--data', dir, ...LISTEN])
const idleMs = quick ? 5_000 : 30_000
process.stdout.write(`  idling ${idleMs / 1000} s for the RSS reading…\n`)
await new Promise((resolve) => setTimeout(resolve, idleMs))
const rss = await rssOf(node.child.pid as number)
const cli = await cliRoundTrips(node, quick ? 5 : 15)
await node.stop()
await rm(dir, { recursive: true, force: true })
const rtt = await pingRtts(quick ? 50 : 300)

const quicMedian = median(rtt.quic)
const tcpMedian = median(rtt.tcp)
const rows: BenchRow[] = [
  { metric: 'cold start to listening (median of 5)', value: median(starts), unit: 'ms', goal: '< 1500', met: median(starts) < 1500 },
  { metric: `idle RSS after ${idleMs / 1000} s`, value: rss / 1024 / 1024, unit: 'MB', goal: '< 150', met: rss / 1024 / 1024 < 150 },
  { metric: 'CLI `peerflow status` round trip (median)', value: median(cli), unit: 'ms', goal: '< 300', met: median(cli) < 300 },
  { metric: 'CLI round trip p90', value: percentile(cli, 90), unit: 'ms' },
  { metric: 'ping RTT over QUIC (median)', value: quicMedian, unit: 'ms' },
  { metric: 'ping RTT over TCP (median)', value: tcpMedian, unit: 'ms' },
  { metric: 'ping RTT p99 QUIC / TCP', value: `${percentile(rtt.quic, 99).toFixed(2)} / ${percentile(rtt.tcp, 99).toFixed(2)}`, unit: 'ms' },
  { metric: 'QUIC / TCP RTT ratio (medians)', value: quicMedian / tcpMedian, unit: 'x' }
]
printRows('bench:node (loopback, 2 shared cores: medians)', rows)
await writeResults('node', rows, { samples: { coldStartMs: starts, cliMs: cli, quicRttMs: rtt.quic, tcpRttMs: rtt.tcp }, idleRssBytes: rss })
