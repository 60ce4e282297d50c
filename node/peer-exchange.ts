import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, PeerId, Startable, Stream } from '@libp2p/interface'
import { JsonFrames, ProtocolError } from '../protocols/framing.ts'
import { PEER_EXCHANGE_PROTOCOL } from '../protocols/ids.ts'
import {
  PEER_EXCHANGE_LIMITS, PeerExchangeReply, PeerExchangeRequest, type PeerRecord
} from '../protocols/peer-exchange.ts'
import type { Host } from './host.ts'
import type { KnownPeers } from './known-peers.ts'
import type { Logger } from './logger.ts'
import { ADMISSION_WAIT_MS, type PeerGate } from './peer-gate.ts'

const REFRESH_INTERVAL_MS = 30_000

export interface PeerExchangeOptions {
  host: Host
  knownPeers: KnownPeers
  maxConnections: number
  dialTimeoutMs: number
  log: Logger
  gate: PeerGate
}

/**
 * Addresses worth sharing: dialable ones (no wildcard), with the peer's own /p2p suffix stripped.
 * Relayed (/p2p-circuit) addresses are kept, after the direct ones, since they are how members
 * behind a NAT are reached; the relay's own /p2p component inside them stays.
 */
export function shareableAddrs (addrs: string[]): string[] {
  const dialable = addrs.filter((addr) => !addr.includes('/0.0.0.0/') && !addr.includes('/::/'))
    .map((addr) => addr.replace(/\/p2p\/[^/]+$/, ''))
    .filter((addr) => !addr.endsWith('/p2p-circuit') || /\/p2p\/[^/]+\/p2p-circuit$/.test(addr))
  const isRelayed = (addr: string): boolean => addr.includes('/p2p-circuit')
  // A few relayed addresses always fit, however many interfaces the peer listens on.
  const relayed = dialable.filter(isRelayed).slice(0, 2)
  return [...dialable.filter((addr) => !isRelayed(addr)).slice(0, PEER_EXCHANGE_LIMITS.maxAddrsPerPeer - relayed.length), ...relayed]
}

/**
 * Peer exchange: answers "whom are you connected to?" and asks it of every newly identified peer,
 * dialling the answers until `maxConnections`, so nobody depends on the peer they joined through.
 */
export class PeerExchange implements Startable {
  readonly #options: PeerExchangeOptions
  #timer: NodeJS.Timeout | undefined
  #relayedAddrs = new Set<string>()
  /**
   * A new relay reservation makes this node reachable, and it usually comes right after the
   * exchange that followed our first connection: ask again now, rather than at the next refresh,
   * since the peers we learn of then may be reachable only through a relay as well.
   */
  readonly #onSelfUpdate = (): void => {
    const relayed = this.#options.host.getMultiaddrs().map((addr) => addr.toString()).filter((addr) => addr.includes('/p2p-circuit'))
    const fresh = relayed.some((addr) => !this.#relayedAddrs.has(addr))
    this.#relayedAddrs = new Set(relayed)
    if (fresh) for (const peer of this.#options.host.getPeers()) void this.exchangeWith(peer)
  }
  readonly #onIdentify = (event: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    const { peerId, protocols } = event.detail
    if (protocols.includes(PEER_EXCHANGE_PROTOCOL)) void this.exchangeWith(peerId)
  }

  constructor (options: PeerExchangeOptions) {
    this.#options = options
  }

  async start (): Promise<void> {
    const { host } = this.#options
    await host.handle(PEER_EXCHANGE_PROTOCOL, (stream, connection) => this.#answer(stream, connection), {
      maxInboundStreams: 4,
      maxOutboundStreams: 4
    })
    host.addEventListener('peer:identify', this.#onIdentify)
    host.addEventListener('self:peer:update', this.#onSelfUpdate)
    this.#timer = setInterval(() => { void this.#refresh() }, REFRESH_INTERVAL_MS)
    this.#timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#options.host.removeEventListener('peer:identify', this.#onIdentify)
    this.#options.host.removeEventListener('self:peer:update', this.#onSelfUpdate)
    await this.#options.host.unhandle(PEER_EXCHANGE_PROTOCOL)
  }

  /** The peers this node would tell `asker` about. */
  connectedPeerRecords (asker: string, limit: number): PeerRecord[] {
    const { host } = this.#options
    const records: PeerRecord[] = []
    for (const connection of host.getConnections()) {
      const peerId = connection.remotePeer.toString()
      if (peerId === asker || records.some((record) => record.peerId === peerId)) continue
      // Only members are worth dialling, and outsiders' addresses are nobody's business.
      if (!this.#options.gate.isAdmitted(peerId)) continue
      const known = this.#options.knownPeers.list().find((peer) => peer.peerId === peerId)
      const addrs = shareableAddrs(known?.addrs ?? [connection.remoteAddr.toString()])
      if (addrs.length > 0) records.push({ peerId, addrs })
      if (records.length >= limit) break
    }
    return records
  }

  async #answer (stream: Stream, connection: Connection): Promise<void> {
    const frames = new JsonFrames<PeerExchangeRequest, PeerExchangeReply>(stream, PeerExchangeRequest, PEER_EXCHANGE_LIMITS)
    try {
      if (!await this.#options.gate.whenAdmitted(connection.remotePeer.toString(), ADMISSION_WAIT_MS)) throw new ProtocolError('not admitted to this network')
      const request = await frames.read()
      await frames.write({ type: 'pex-reply', peers: this.connectedPeerRecords(connection.remotePeer.toString(), request.limit) })
      await stream.close()
    } catch (err) {
      this.#options.log.debug({ err, peer: connection.remotePeer.toString() }, 'peer exchange request refused')
      stream.abort(err as Error)
    }
  }

  /** Asks one peer for its peers and dials the ones we lack, within the connection budget. */
  async exchangeWith (peerId: PeerId): Promise<void> {
    const { host, log } = this.#options
    let stream: Stream | undefined
    try {
      if (!await this.#options.gate.whenAdmitted(peerId.toString(), ADMISSION_WAIT_MS)) return
      // Not over a relay-limited circuit: libp2p would refuse the stream, and dialling for one opens
      // yet another limited circuit (whose identify would bring us straight back here).
      if (!host.getConnections(peerId).some((connection) => connection.limits === undefined)) return
      stream = await host.dialProtocol(peerId, PEER_EXCHANGE_PROTOCOL, { signal: AbortSignal.timeout(PEER_EXCHANGE_LIMITS.readTimeoutMs) })
      const frames = new JsonFrames<PeerExchangeReply, PeerExchangeRequest>(stream, PeerExchangeReply, PEER_EXCHANGE_LIMITS)
      await frames.write({ type: 'pex-request', limit: PEER_EXCHANGE_LIMITS.maxPeersPerReply })
      const reply = await frames.read()
      await stream.close()
      await this.#dialLearned(reply.peers)
    } catch (err) {
      stream?.abort(err as Error)
      log.debug({ err, peer: peerId.toString() }, 'peer exchange failed')
    }
  }

  async #dialLearned (records: PeerRecord[]): Promise<void> {
    const { host, knownPeers, maxConnections, dialTimeoutMs, log } = this.#options
    const self = host.peerId.toString()
    for (const record of records) {
      if (host.getPeers().length >= maxConnections) return
      if (record.peerId === self || host.getConnections().some((c) => c.remotePeer.toString() === record.peerId)) continue
      let peerId: PeerId
      try {
        peerId = peerIdFromString(record.peerId)
      } catch {
        continue
      }
      const addrs = record.addrs.flatMap((addr) => {
        try { return [multiaddr(`${addr}/p2p/${record.peerId}`)] } catch { return [] }
      })
      if (addrs.length === 0) continue
      try {
        await host.dial(addrs, { signal: AbortSignal.timeout(dialTimeoutMs) })
        knownPeers.remember(peerId.toString(), record.addrs)
        log.info({ peer: record.peerId }, 'connected to a peer learned through peer exchange')
      } catch (err) {
        log.debug({ err, peer: record.peerId }, 'could not dial a peer learned through peer exchange')
      }
    }
  }

  async #refresh (): Promise<void> {
    const peers = this.#options.host.getPeers()
    const pick = peers[Math.floor(Math.random() * peers.length)]
    if (pick !== undefined) await this.exchangeWith(pick)
  }
}
