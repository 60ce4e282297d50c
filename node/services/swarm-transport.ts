import * as encoding from 'lib0/encoding'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { JsonFrames, ProtocolError } from '../../protocols/framing.ts'
import { RAFT_PROTOCOL, SWARM_PROTOCOL } from '../../protocols/ids.ts'
import { RAFT_LIMITS, toWire, type RaftMessage } from '../../protocols/raft/messages.ts'
import { SWARM_LIMITS, SwarmReply, SwarmRequest } from '../../protocols/swarm.ts'
import type { SwarmTransport } from '../../src/swarm/ports.ts'
import type { Logger } from '../core/logger.ts'
import { ADMISSION_WAIT_MS, type PeerGate } from '../admission/peer-gate.ts'
import type { NodeService, ProtocolHost, ServiceComponents } from './service-components.ts'

export interface SwarmHandlers {
  onRaftMessage: (from: string, swarm: string, message: unknown) => void
  onRequest: (from: string, request: SwarmRequest) => Promise<SwarmReply>
}

interface Outbound {
  peerId: PeerId
  stream: Stream | undefined
  /** The connection `stream` runs on (or is opening on): the newest one to the peer. */
  connection: Connection | undefined
  opening: boolean
  queue: Uint8Array[]
}

function frame (swarm: string, message: RaftMessage): Uint8Array {
  const encoder = encoding.createEncoder()
  // A varint length prefix, then the JSON body: the same framing lpStream reads.
  encoding.writeVarUint8Array(encoder, new TextEncoder().encode(JSON.stringify({ swarm, message: toWire(message) })))
  return encoding.toUint8Array(encoder)
}

/**
 * The network side of swarms: election messages over one long-lived stream per peer
 * (`/peerflow/raft/1.0.0`, fire-and-forget, dropped under congestion) and membership requests as
 * request/response streams (`/peerflow/swarm/1.0.0`).
 */
export function createSwarmTransport (components: Pick<ServiceComponents, 'gate' | 'logger'> & { host: ProtocolHost }): Libp2pSwarmTransport {
  return new Libp2pSwarmTransport(components)
}

export class Libp2pSwarmTransport implements SwarmTransport, NodeService {
  readonly #host: ProtocolHost
  readonly #log: Logger
  #handlers: SwarmHandlers | undefined
  readonly #outbound = new Map<string, Outbound>()
  readonly #inbound = new Set<Stream>()

  readonly #gate: PeerGate
  #started = false

  constructor ({ host, gate, logger }: Pick<ServiceComponents, 'gate' | 'logger'> & { host: ProtocolHost }) {
    this.#host = host
    this.#log = logger.child({ component: 'swarm-transport' })
    this.#gate = gate
  }

  isStarted (): boolean {
    return this.#started
  }

  bind (handlers: SwarmHandlers): void {
    this.#handlers = handlers
  }

  async start (): Promise<void> {
    await this.#host.handle(RAFT_PROTOCOL, (stream, connection) => { void this.#readRaft(stream, connection) }, {
      maxInboundStreams: RAFT_LIMITS.maxStreams, maxOutboundStreams: RAFT_LIMITS.maxStreams
    })
    await this.#host.handle(SWARM_PROTOCOL, (stream, connection) => this.#answerRequest(stream, connection), {
      maxInboundStreams: SWARM_LIMITS.maxStreams, maxOutboundStreams: SWARM_LIMITS.maxStreams
    })
    this.#started = true
  }

  async stop (): Promise<void> {
    this.#started = false
    await this.#host.unhandle([RAFT_PROTOCOL, SWARM_PROTOCOL]).catch(() => {})
    for (const outbound of this.#outbound.values()) outbound.stream?.abort(new Error('node stopping'))
    for (const stream of this.#inbound) stream.abort(new Error('node stopping'))
    this.#outbound.clear()
  }

  sendRaft (peer: string, swarm: string, message: RaftMessage): void {
    if (!this.#gate.isAdmitted(peer)) return
    const bytes = frame(swarm, message)
    let outbound = this.#outbound.get(peer)
    if (outbound === undefined) {
      outbound = { peerId: peerIdFromString(peer), stream: undefined, connection: undefined, opening: false, queue: [] }
      this.#outbound.set(peer, outbound)
    }
    const connection = this.#newestConnection(outbound.peerId)
    if (outbound.connection !== connection) {
      // The peer connected again, typically after a restart, while the old connection still looks
      // open: QUIC notices a vanished peer only after its idle timeout, and until then frames sent
      // (or a stream being opened) on the old connection go nowhere. The newest one is most likely alive.
      outbound.stream?.abort(new Error('superseded by a newer connection to the peer'))
      outbound.stream = undefined
      outbound.connection = connection
      outbound.opening = false
    }
    const stream = outbound.stream
    if (stream !== undefined && stream.status === 'open' && stream.writeStatus === 'writable') {
      // send() returns false when the buffer is full; the frame is queued by the stream anyway,
      // and a congested peer simply misses heartbeats until it drains.
      stream.send(bytes)
      return
    }
    if (outbound.queue.length < RAFT_LIMITS.maxQueuedFrames) outbound.queue.push(bytes)
    if (!outbound.opening && this.#host.getPeers().some((p) => p.toString() === peer)) void this.#open(outbound, connection)
  }

  /**
   * The most recently opened live, unlimited connection to `peer` (libp2p's own dials reuse the
   * oldest one). Undefined when there is none, e.g. only a relayed one: then libp2p chooses.
   */
  #newestConnection (peer: PeerId): Connection | undefined {
    let newest: Connection | undefined
    for (const connection of this.#host.getConnections(peer)) {
      if (connection.status !== 'open' || connection.limits !== undefined) continue
      if (newest === undefined || connection.timeline.open > newest.timeline.open) newest = connection
    }
    return newest
  }

  /** A new stream on `connection`, or wherever libp2p dials when there is none to choose. */
  async #newStream (peer: PeerId, connection: Connection | undefined, protocol: string): Promise<Stream> {
    const signal = AbortSignal.timeout(SWARM_LIMITS.readTimeoutMs)
    return connection === undefined ? this.#host.dialProtocol(peer, protocol, { signal }) : connection.newStream(protocol, { signal })
  }

  async #open (outbound: Outbound, connection: Connection | undefined): Promise<void> {
    const peer = outbound.peerId.toString()
    outbound.opening = true
    try {
      const stream = await this.#newStream(outbound.peerId, connection, RAFT_PROTOCOL)
      if (outbound.connection !== connection) {
        stream.abort(new Error('superseded by a newer connection to the peer'))
        return
      }
      outbound.stream = stream
      stream.addEventListener('close', () => { if (outbound.stream === stream) outbound.stream = undefined })
      for (const bytes of outbound.queue.splice(0)) stream.send(bytes)
    } catch (err) {
      if (outbound.connection === connection) outbound.queue.length = 0
      this.#log.debug({ peer, err: (err as Error).message }, 'could not open an election stream')
    } finally {
      if (outbound.connection === connection) outbound.opening = false
    }
  }

  async #readRaft (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: RAFT_LIMITS.maxFrameBytes })
    this.#inbound.add(stream)
    try {
      if (!await this.#gate.whenAdmitted(from, ADMISSION_WAIT_MS)) throw new ProtocolError('not admitted to this network')
      for (;;) {
        const bytes = await lp.read({ signal: AbortSignal.timeout(RAFT_LIMITS.idleTimeoutMs) })
        let parsed: { swarm?: unknown, message?: unknown }
        try {
          parsed = JSON.parse(new TextDecoder().decode(bytes.subarray())) as { swarm?: unknown, message?: unknown }
        } catch {
          throw new ProtocolError('election frame is not JSON')
        }
        if (typeof parsed.swarm !== 'string') throw new ProtocolError('election frame without a swarm')
        this.#handlers?.onRaftMessage(from, parsed.swarm, parsed.message)
      }
    } catch (err) {
      if (stream.status === 'open') stream.abort(err as Error)
    } finally {
      this.#inbound.delete(stream)
    }
  }

  async request (peer: string, request: SwarmRequest): Promise<SwarmReply> {
    if (!await this.#gate.whenAdmitted(peer, ADMISSION_WAIT_MS)) throw new ProtocolError(`${peer} is not admitted to this network`)
    const peerId = peerIdFromString(peer)
    // As for election streams: the newest connection, not one a restarted peer left behind.
    const stream = await this.#newStream(peerId, this.#newestConnection(peerId), SWARM_PROTOCOL)
    try {
      const frames = new JsonFrames<SwarmReply, SwarmRequest>(stream, SwarmReply, SWARM_LIMITS)
      await frames.write(request)
      const reply = await frames.read()
      await stream.close()
      return reply
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  async #answerRequest (stream: Stream, connection: Connection): Promise<void> {
    const frames = new JsonFrames<SwarmRequest, SwarmReply>(stream, SwarmRequest, SWARM_LIMITS)
    try {
      if (!await this.#gate.whenAdmitted(connection.remotePeer.toString(), ADMISSION_WAIT_MS)) throw new ProtocolError('not admitted to this network')
      const request = await frames.read()
      const handlers = this.#handlers
      const reply: SwarmReply = handlers === undefined
        ? { type: 'error', message: 'swarms are not running on this node' }
        : await handlers.onRequest(connection.remotePeer.toString(), request)
      await frames.write(reply)
      await stream.close()
    } catch (err) {
      this.#log.debug({ peer: connection.remotePeer.toString(), err: (err as Error).message }, 'swarm request failed')
      stream.abort(err as Error)
    }
  }
}
