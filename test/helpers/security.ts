import { join } from 'node:path'
import { Writable } from 'node:stream'
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { pino } from 'pino'
import { DEFAULT_POLICY, NamespaceDoc } from '../../crdt/index.ts'
import type { NodeConfig } from '../../node/config/config.ts'
import { createNetworkSecret } from '../../node/admission/network-secret.ts'
import { createNode } from '../../node/app.ts'
import type { PeerflowNode } from '../../node/core/peerflow-node.ts'
import { encodeMemoryGossip } from '../../protocols/memory-gossip.ts'
import { sealerFor } from '../../protocols/sealed.ts'
import { testConfig, type TestNetwork } from './nodes.ts'

export interface SecretFile {
  path: string
  secret: Uint8Array
}

/** A fresh network secret, written the way `peerflow network init` writes it, in a dir the network removes. */
export async function secretFileIn (net: TestNetwork): Promise<SecretFile> {
  const path = join(await net.dataDir(), 'network.secret')
  return { path, secret: await createNetworkSecret(path) }
}

/**
 * The exact update a replica gossips after writing one entry: a well-formed write that an attacker
 * could forge, replay or flood, which every store would accept if the network let it through.
 */
export function entryUpdate (namespace: string, key: string, value: string | number, author: string): Uint8Array {
  const doc = new NamespaceDoc(namespace, DEFAULT_POLICY)
  let update: Uint8Array | undefined
  const stop = doc.onUpdate((bytes) => { update = bytes })
  doc.put(key, value, { author, now: Date.now() })
  stop()
  doc.destroy()
  if (update === undefined) throw new Error('the write produced no update')
  return update
}

/** A memory gossip payload as a node publishes it: sealed when the network has a secret. */
export function gossipPayload (namespace: string, update: Uint8Array, secret?: Uint8Array): Uint8Array {
  const payload = encodeMemoryGossip({ namespace, update })
  return secret === undefined ? payload : sealerFor(secret, 'memory-gossip').seal(payload)
}

export interface ProbeResult {
  /** Frames the remote side sent before the stream ended. */
  frames: Uint8Array[]
  /** Why reading stopped: the remote ended or reset the stream (or its connection), unless we timed out. */
  error: Error
  timedOut: boolean
}

/**
 * Sends `request` as length-prefixed frames on a protocol stream and collects whatever comes back
 * until the stream ends or `timeoutMs` passes: what a peer gets out of a handler.
 */
export async function probeStream (stream: Stream, request: Uint8Array[], timeoutMs: number): Promise<ProbeResult> {
  const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
  const frames: Uint8Array[] = []
  const deadline = AbortSignal.timeout(timeoutMs)
  try {
    for (const frame of request) await lp.write(frame, { signal: deadline })
    for (;;) frames.push((await lp.read({ signal: deadline })).subarray())
  } catch (err) {
    if (deadline.aborted) stream.abort(new Error('probe timed out'))
    return { frames, error: err as Error, timedOut: deadline.aborted }
  }
}

export interface LoggedNode {
  node: PeerflowNode
  /** The node's log records at warn and above, parsed. */
  records: Array<Record<string, unknown>>
}

/** A node like `net.start` starts (stopped by `net.cleanup`), whose warnings the test can read. */
export async function startLoggedNode (net: TestNetwork, overrides: Partial<NodeConfig>): Promise<LoggedNode> {
  const records: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as Record<string, unknown>)
      done()
    }
  })
  const node = await createNode(testConfig(await net.dataDir(), overrides), { log: pino({ level: 'warn' }, sink) })
  net.nodes.push(node)
  return { node, records }
}
