import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { defaults, type NodeConfig } from '../../node/config/config.ts'
import { createNode } from '../../node/app.ts'
import type { PeerflowNode } from '../../node/core/peerflow-node.ts'

/** A temp dir removed by `cleanup()`. */
export async function tempDir (prefix = 'peerflow-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

export const LOOPBACK_LISTEN = ['/ip4/127.0.0.1/udp/0/quic-v1', '/ip4/127.0.0.1/tcp/0']

export function testConfig (dataDir: string, overrides: Partial<NodeConfig> = {}): NodeConfig {
  return {
    ...defaults(dataDir),
    listen: LOOPBACK_LISTEN,
    api: '127.0.0.1:0',
    dialTimeoutMs: 3_000,
    logLevel: 'silent',
    ...overrides
  }
}

/** Starts in-process nodes on loopback and stops them (and removes their data) in `cleanup`. */
export class TestNetwork {
  readonly nodes: PeerflowNode[] = []
  readonly #dirs: string[] = []

  async dataDir (): Promise<string> {
    const dir = await tempDir()
    this.#dirs.push(dir)
    return dir
  }

  async start (overrides: Partial<NodeConfig> = {}, dataDir?: string): Promise<PeerflowNode> {
    const config = testConfig(dataDir ?? await this.dataDir(), overrides)
    const node = await createNode(config, { log: pino({ level: process.env.PEERFLOW_TEST_LOG ?? 'silent' }) })
    this.nodes.push(node)
    return node
  }

  async cleanup (): Promise<void> {
    await Promise.all(this.nodes.map(async (node) => { await node.stop() }))
    this.nodes.length = 0
    await Promise.all(this.#dirs.map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
    this.#dirs.length = 0
  }
}

export function quicAddr (node: PeerflowNode): string {
  const addr = node.addresses().find((a) => a.includes('/quic-v1/'))
  if (addr === undefined) throw new Error('node has no QUIC address')
  return addr
}

export function tcpAddr (node: PeerflowNode): string {
  const addr = node.addresses().find((a) => a.includes('/tcp/'))
  if (addr === undefined) throw new Error('node has no TCP address')
  return addr
}

export function isConnected (a: PeerflowNode, b: PeerflowNode): boolean {
  return a.host.getPeers().some((peer) => peer.toString() === b.peerId)
}

/** Polls until `check` holds, or fails with `what` after `timeoutMs`. */
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
}
