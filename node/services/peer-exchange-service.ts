import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { isPrivate } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { JsonFrames, ProtocolError } from '../../protocols/framing.ts'
import { PEER_EXCHANGE_PROTOCOL } from '../../protocols/ids.ts'
import {
  PEER_EXCHANGE_LIMITS, PeerExchangeReply, PeerExchangeRequest, type PeerRecord
} from '../../protocols/peer-exchange.ts'
import type { Host } from '../net/host.ts'
import type { KnownPeers } from '../net/known-peers.ts'
import type { Logger } from '../core/logger.ts'
import { ADMISSION_WAIT_MS, type PeerGate } from '../admission/peer-gate.ts'
import type { NodeService, ServiceComponents } from './service-components.ts'

export interface PeerExchangeInit {
  knownPeers: KnownPeers
  maxConnections: number
  dialTimeoutMs: number
}

type PeerExchangeHost = Pick<Host, 'handle' | 'unhandle' | 'dialProtocol' | 'dial' | 'getPeers' | 'getConnections' | 'getMultiaddrs' | 'addEventListener' | 'removeEventListener' | 'peerId'>

interface PeerExchangeOptions extends PeerExchangeInit {
  host: PeerExchangeHost
  log: Logger
  gate: PeerGate
}

export function createPeerExchange (components: Pick<ServiceComponents, 'gate' | 'logger'> & { host: PeerExchangeHost }, init: PeerExchangeInit): PeerExchange {
  return new PeerExchange({ ...init, host: components.host, gate: components.gate, log: components.logger.child({ component: 'peer-exchange' }) })
}

/**
 * Addresses worth sharing: dialable ones (no wildcard), with the peer's own /p2p suffix stripped.
 * Relayed (/p2p-circuit) addresses are kept, after the direct ones, since they are how members
 * behind a NAT are reached; the relay's own /p2p component inside them stays.
 */
export function shareableAddrs (addrs: string[]): string[] {
  // Link-local addresses mean nothing off the link, and carry no interface to dial them by.
  const dialable = addrs.filter((addr) => !addr.includes('/0.0.0.0/') && !addr.includes('/::/') && !/\/ip6\/fe80:/i.test(addr))
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
export class PeerExchange implements NodeService {
  readonly #options: PeerExchangeOptions
  #timer: NodeJS.Timeout | undefined
  #relayedAddrs = new Set<string>()
  /** Latest addresses heard for peers being dialled, and which those are. */
  readonly #learned = new Map<string, string[]>()
  readonly #dialling = new Map<string, { addrs: Set<string>, restart: AbortController }>()
  /**
   * A new relay reservation makes this node reachable, and it usually comes right after the
   * exchange that followed our first connection: ask again now, rather than at the next refresh,
   * since the peers we learn of then may be reachable only through a relay as well.
   */
  readonly #onSelfUpdate = (): void => {
    const relayed = this.#options.host.getMultiaddrs().map((addr) => addr.toString()).filter((addr) => addr.includes('/p2p-circuit'))
    const fresh = relayed.some((addr) => !this.#relayedAddrs.has(addr))
    this.#relayedAddrs = new Set(relayed)
    if (!fresh) return
    for (const peer of this.#options.host.getPeers()) void this.exchangeWith(peer)
    // Peers that reserved a slot at about the same time are only known with their relayed
    // address once their identify push has reached the relay: ask once more a little later.
    clearTimeout(this.#followUp)
    this.#followUp = setTimeout(() => { for (const peer of this.#options.host.getPeers()) void this.exchangeWith(peer) }, PEER_EXCHANGE_LIMITS.followUpMs)
    this.#followUp.unref()
  }
  #followUp: NodeJS.Timeout | undefined
  readonly #onIdentify = (event: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    const { peerId, protocols } = event.detail
    if (protocols.includes(PEER_EXCHANGE_PROTOCOL)) void this.exchangeWith(peerId)
  }

  #started = false

  constructor (options: PeerExchangeOptions) {
    this.#options = options
  }

  isStarted (): boolean {
    return this.#started
  }

  async start (): Promise<void> {
    const { host } = this.#options
    await host.handle(PEER_EXCHANGE_PROTOCOL, (stream, connection) => this.#answer(stream, connection), {
      maxInboundStreams: PEER_EXCHANGE_LIMITS.maxStreams,
      maxOutboundStreams: PEER_EXCHANGE_LIMITS.maxStreams
    })
    host.addEventListener('peer:identify', this.#onIdentify)
    host.addEventListener('self:peer:update', this.#onSelfUpdate)
    this.#timer = setInterval(() => { void this.#refresh() }, PEER_EXCHANGE_LIMITS.refreshIntervalMs)
    this.#timer.unref()
    this.#started = true
  }

  async stop (): Promise<void> {
    this.#started = false
    clearInterval(this.#timer)
    clearTimeout(this.#followUp)
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
    const { host, maxConnections } = this.#options
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
      this.#learned.set(record.peerId, record.addrs)
      const running = this.#dialling.get(record.peerId)
      if (running !== undefined) {
        // Newer addresses (typically the relayed one of a peer that has just reserved a slot):
        // restart the dial with them rather than let it run out its time on the old ones.
        if (record.addrs.some((addr) => !running.addrs.has(addr))) running.restart.abort()
        continue
      }
      try {
        await this.#dialPeer(peerId)
      } finally {
        this.#dialling.delete(record.peerId)
        this.#learned.delete(record.peerId)
      }
    }
  }

  /**
   * Dials what was learned of a peer, starting over (a few times at most) when newer answers bring
   * addresses this attempt lacks: libp2p folds a second dial to the same peer into the running
   * one, whose address order is already fixed, so the new addresses would otherwise wait for the
   * next refresh behind a private address of the peer's LAN that times out.
   */
  async #dialPeer (peerId: PeerId): Promise<void> {
    const { host, knownPeers, dialTimeoutMs, log } = this.#options
    const peer = peerId.toString()
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const learned = this.#learned.get(peer) ?? []
        const addrs = learned.flatMap((addr) => {
          try { return [multiaddr(`${addr}/p2p/${peer}`)] } catch { return [] }
        })
        if (addrs.length === 0) return
        const restart = new AbortController()
        this.#dialling.set(peer, { addrs: new Set(learned), restart })
        // Public and relayed addresses first, on their own: a private address of a peer on another
        // LAN can hold a dial for seconds, and every other dial to the peer (DCUtR's included)
        // waits on the one running. Private ones are tried only when those fail.
        const wide = addrs.filter((addr) => addr.toString().includes('/p2p-circuit') || !isPrivate(addr))
        const stages = [wide, addrs.filter((addr) => !wide.includes(addr))].filter((stage) => stage.length > 0)
        let lastError: unknown
        for (const stage of stages) {
          try {
            await host.dial(stage, { signal: AbortSignal.any([AbortSignal.timeout(dialTimeoutMs), restart.signal]) })
            knownPeers.remember(peer, learned)
            log.info({ peer }, 'connected to a peer learned through peer exchange')
            return
          } catch (err) {
            lastError = err
            if (restart.signal.aborted) break
          }
        }
        if (!restart.signal.aborted) {
          log.debug({ err: lastError, peer }, 'could not dial a peer learned through peer exchange')
          return
        }
        // Let libp2p drop the aborted dial first, or the next one would join it.
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    } finally {
      this.#dialling.delete(peer)
    }
  }

  async #refresh (): Promise<void> {
    const peers = this.#options.host.getPeers()
    const pick = peers[Math.floor(Math.random() * peers.length)]
    if (pick !== undefined) await this.exchangeWith(pick)
  }
}
