import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { api, startNodeInNamespace, waitFor, type NsNode } from '../../test/helpers/netns.ts'
import type { BridgedLan } from './bridged-namespaces.ts'

/**
 * Real `peerflow start` processes, one per namespace of a bridged LAN, each with its own data dir:
 * started, stopped, restarted from their data dirs, and read through their control APIs (memory
 * counts, Prometheus metrics, swarm status) and /proc (resident memory).
 */

export const NODE_PORT = 4433

export interface BedNode {
  slot: number
  ns: string
  addr: string
  dataDir: string
  process: NsNode
  readonly running: boolean
}

/** What every node's peerflow.json holds; documented in docs/BENCHMARKS.md with the reasons. */
export interface BedNodeConfig {
  embedder: 'hash'
  election: { timeoutMinMs: number, timeoutMaxMs: number, heartbeatMs: number }
}

export class ScaleTestbed {
  readonly nodes: BedNode[] = []
  readonly #lan: BridgedLan
  readonly #root: string
  readonly #config: BedNodeConfig
  #nextSlot = 0

  constructor (lan: BridgedLan, root: string, config: BedNodeConfig) {
    this.#lan = lan
    this.#root = root
    this.#config = config
  }

  running (): BedNode[] {
    return this.nodes.filter((node) => node.running)
  }

  /** Node 0's QUIC address: every other node bootstraps from it and peer exchange does the rest. */
  bootstrapAddr (): string {
    const first = this.nodes[0]
    if (first === undefined) throw new Error('no node started yet')
    return quicAddr(first)
  }

  /** Starts `count` new nodes, `parallel` at a time (starting is CPU-bound: two cores). */
  async grow (count: number, parallel = 2): Promise<BedNode[]> {
    const started: BedNode[] = []
    if (this.nodes.length === 0 && count > 0) {
      started.push(await this.add())
      count--
    }
    for (let i = 0; i < count; i += parallel) {
      started.push(...await Promise.all(Array.from({ length: Math.min(parallel, count - i) }, async () => this.add())))
    }
    return started
  }

  /** A new node in a new namespace, bootstrapping from node 0 (none for node 0 itself). */
  async add (): Promise<BedNode> {
    const slot = this.#nextSlot++
    const { ns, addr } = await this.#lan.slot(slot)
    const dataDir = join(this.#root, `node-${slot}`)
    await mkdir(dataDir, { recursive: true })
    await writeFile(join(dataDir, 'peerflow.json'), JSON.stringify(this.#config))
    const bed: BedNode = {
      slot,
      ns,
      addr,
      dataDir,
      process: await this.#spawn(ns, addr, dataDir),
      get running () { return this.process.child.exitCode === null && this.process.child.signalCode === null }
    }
    this.nodes.push(bed)
    return bed
  }

  async #spawn (ns: string, addr: string, dataDir: string): Promise<NsNode> {
    const bootstrap = this.nodes.length === 0 || this.nodes[0]?.ns === ns ? [] : ['--bootstrap', this.bootstrapAddr()]
    return startNodeInNamespace(ns, [
      '--data', dataDir,
      '--listen', `/ip4/${addr}/udp/${NODE_PORT}/quic-v1`,
      ...bootstrap
    // Generous: 30 processes starting on 2 shared cores each take tens of seconds of wall time.
    ], { PEERFLOW_LOG_LEVEL: 'warn' }, 300_000)
  }

  async stop (node: BedNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await node.process.stop(signal)
  }

  /** Starts a stopped node again from its data dir. */
  async restart (node: BedNode): Promise<void> {
    // Also reaps a killed node's API bridge, which outlives the node.
    await node.process.stop('SIGTERM')
    node.process = await this.#spawn(node.ns, node.addr, node.dataDir)
  }

  /** Replaces a stopped node's data dir with a copy of `snapshot` (taken with `snapshot()`). */
  async restoreDataDir (node: BedNode, snapshot: string): Promise<void> {
    await rm(node.dataDir, { recursive: true, force: true })
    await cp(snapshot, node.dataDir, { recursive: true })
  }

  async snapshot (node: BedNode): Promise<string> {
    const copy = `${node.dataDir}.snapshot`
    await rm(copy, { recursive: true, force: true })
    await cp(node.dataDir, copy, { recursive: true })
    return copy
  }

  /** Stops a node for good and removes its data dir (a joiner that was only measured). */
  async discard (node: BedNode): Promise<void> {
    await node.process.stop('SIGKILL')
    this.nodes.splice(this.nodes.indexOf(node), 1)
    await rm(node.dataDir, { recursive: true, force: true })
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.nodes.map(async (node) => { await node.process.stop('SIGKILL') }))
  }
}

export function quicAddr (node: BedNode): string {
  return `/ip4/${node.addr}/udp/${NODE_PORT}/quic-v1/p2p/${node.process.peerId}`
}

/** Resident set size of the node process (`ip netns exec` execs node, so the child's pid is the node's). */
export async function rssBytes (node: BedNode): Promise<number> {
  const status = await readFile(`/proc/${node.process.child.pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]
  if (kb === undefined) throw new Error(`no VmRSS for node ${node.slot}`)
  return Number(kb) * 1024
}

export async function entriesIn (node: BedNode, namespace: string): Promise<number> {
  const { namespaces } = await api<{ namespaces: Array<{ name: string, entries: number }> }>(node.process, 'GET', '/memory')
  return namespaces.find((info) => info.name === namespace)?.entries ?? 0
}

export async function connectedPeers (node: BedNode): Promise<number> {
  const { peers } = await api<{ peers: Array<{ admitted: boolean }> }>(node.process, 'GET', '/peers')
  return peers.filter((peer) => peer.admitted).length
}

/** Waits until every running node is connected to at least `min` admitted peers. */
export async function waitForMesh (bed: ScaleTestbed, min: number, timeoutMs = 120_000): Promise<void> {
  await waitFor(`every node connected to ≥ ${min} peers`, async () => {
    const counts = await Promise.all(bed.running().map(connectedPeers))
    return counts.every((count) => count >= min) ? true : undefined
  }, timeoutMs, 500)
}

/** Prometheus text: the sum of samples of `family` whose label set matches `labels`. */
export function metricSum (text: string, family: string, labels: (labelText: string) => boolean = () => true): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(family)) continue
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (match === null || match[1] !== family) continue
    if (!labels(match[2] ?? '')) continue
    sum += Number(match[3])
  }
  return sum
}

/** The replication counters a node exposes on GET /metrics that the bench reads. */
export interface GossipCounters {
  /** Memory gossip messages this node published (peerflow_gossip_messages_total{direction="out"}). */
  published: number
  /** Memory gossip messages delivered to this node after gossipsub's de-duplication. */
  delivered: number
  /** Bytes on gossipsub streams (/meshsub/*), from libp2p_data_transfer_bytes_total. */
  meshsubBytesSent: number
  meshsubBytesReceived: number
  /** Catch-up (state-vector sync) bytes, peerflow_sync_bytes_total. */
  syncBytesSent: number
  syncBytesReceived: number
}

export async function gossipCounters (node: BedNode): Promise<GossipCounters> {
  const text = await rawMetrics(node)
  const meshsub = (direction: string) => (labels: string): boolean => labels.includes('/meshsub/') && labels.includes(` ${direction}"`)
  return {
    published: metricSum(text, 'peerflow_gossip_messages_total', (l) => l.includes('direction="out"')),
    delivered: metricSum(text, 'peerflow_gossip_messages_total', (l) => l.includes('direction="in"')),
    meshsubBytesSent: metricSum(text, 'libp2p_data_transfer_bytes_total', meshsub('sent')),
    meshsubBytesReceived: metricSum(text, 'libp2p_data_transfer_bytes_total', meshsub('received')),
    syncBytesSent: metricSum(text, 'peerflow_sync_bytes_total', (l) => l.includes('direction="out"')),
    syncBytesReceived: metricSum(text, 'peerflow_sync_bytes_total', (l) => l.includes('direction="in"'))
  }
}

export function counterDelta (after: GossipCounters, before: GossipCounters): GossipCounters {
  const delta = { ...after }
  for (const key of Object.keys(delta) as Array<keyof GossipCounters>) delta[key] = after[key] - before[key]
  return delta
}

export async function rawMetrics (node: BedNode): Promise<string> {
  // The metrics route answers text, which the JSON helper cannot parse: read it raw.
  return new Promise<string>((resolve, reject) => {
    const req = request({ socketPath: node.process.socket, path: '/metrics', headers: { host: `127.0.0.1:${node.process.apiPort}` }, timeout: 30_000 }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => { (res.statusCode ?? 500) >= 400 ? reject(new Error(`GET /metrics: ${res.statusCode}`)) : resolve(text) })
    })
    req.on('timeout', () => { req.destroy(new Error('GET /metrics: timed out')) })
    req.on('error', reject)
    req.end()
  })
}
