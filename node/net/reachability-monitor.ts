import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isPrivate } from '@libp2p/utils'
import type { Connection, IdentifyResult, PeerId, Startable } from '@libp2p/interface'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { NodeConfig } from '../config/config.ts'
import type { Host } from './host.ts'
import type { Logger } from '../core/logger.ts'
import { ADMISSION_WAIT_MS, type PeerGate } from '../admission/peer-gate.ts'
import { routeOf } from './connection-route.ts'

export type Reachability = 'public' | 'private' | 'unknown'

export interface RelayReservationInfo {
  relay: string
  /** The /p2p-circuit addresses the reservation gives this node. */
  addrs: string[]
}

export interface ReachabilityStatus {
  reachability: Reachability
  /** Why the node believes it, in one line. */
  reason: string
  /** Public addresses confirmed by AutoNAT dial-backs (or announced by the operator). */
  publicAddrs: string[]
  /** Public addresses peers saw us at that are not ours: a NAT's mappings. */
  observedAddrs: string[]
  /** Relay slots this node holds (it is reachable through them). */
  reservations: RelayReservationInfo[]
  /** This node as a relay (`--relay`): the members it holds a slot for. */
  relayService: {
    enabled: boolean
    reservations: Array<{ peerId: string, expiresAt: number }>
    maxReservations: number
    limits: { durationMs: number, dataBytes: number } | null
  }
  /** Port mappings made on the router over UPnP (`--upnp`). */
  upnp: { enabled: boolean, mappings: Array<{ addr: string, verified: boolean }> }
  /** Relayed connections replaced by direct ones since start (DCUtR or a direct redial). */
  directUpgrades: number
}

/** What libp2p keeps about one of our addresses; read from its address manager. */
interface AddressWithMetadata {
  multiaddr: Multiaddr
  verified: boolean
  type: string
}

/**
 * The parts of libp2p's internals this module needs. libp2p exposes no public call for "our
 * addresses with their verification state" nor for "start listening on one more address", but
 * the node object carries its components, and the circuit transport itself uses
 * `transportManager.listen` the same way when it is dialled through an unknown relay.
 */
interface HostInternals {
  addressManager: { getAddressesWithMetadata: () => AddressWithMetadata[] }
  transportManager: { listen: (addrs: Multiaddr[]) => Promise<void> }
}

function internalsOf (host: Host): HostInternals | undefined {
  const components = (host as unknown as { components?: Partial<HostInternals> }).components
  if (components?.addressManager === undefined || components.transportManager === undefined) return undefined
  return components as HostInternals
}

const EVALUATE_INTERVAL_MS = 2_000
/** Observations older than this no longer count as evidence of a NAT (mappings move). */
const OBSERVATION_TTL_MS = 10 * 60_000

function isCircuit (addr: Multiaddr): boolean {
  return addr.getComponents().some((component) => component.name === 'p2p-circuit')
}

function hostOf (addr: Multiaddr): string | undefined {
  return addr.getComponents().find((component) => component.name === 'ip4' || component.name === 'ip6')?.value
}

export interface ReachabilityOptions {
  host: Host
  config: NodeConfig
  log: Logger
  /** Admission: a relayed connection is closed for a direct one only once the peer is admitted. */
  gate: PeerGate
}

/** Direct-dial attempts to a peer reached only through a relay: first after DCUtR had its go, then backing off. */
const DIRECT_FIRST_DELAY_MS = 3_000
const DIRECT_RETRY_MS = 5_000
const DIRECT_MAX_RETRY_MS = 5 * 60_000

interface DirectAttempt {
  nextAt: number
  delayMs: number
  running: boolean
}

/**
 * Works out whether this node is reachable from the Internet and keeps it reachable when it is not:
 *
 * - **public**: AutoNAT peers dialled one of our public addresses back (or the operator announced one);
 * - **private**: peers see us at a public address that is not one of ours (a NAT rewrote it) and
 *   none of our addresses is confirmed. js-libp2p's AutoNAT v1 only withdraws an address after 8
 *   failed dial-backs from distinct networks, which a small network never produces, so the NAT
 *   evidence from identify is what decides;
 * - **unknown**: neither (no peer yet, or only private addresses around, as on a LAN).
 *
 * A private node that is not itself a relay starts listening on `/p2p-circuit`: circuit-relay-v2
 * then reserves a slot on a connected relay and advertises the relayed address, and keeps
 * re-reserving when the relay comes back after a restart.
 *
 * DCUtR replaces relayed connections with direct ones where it can, but in js-libp2p only its
 * unilateral path works (see docs/NAT.md), it runs once, from the side that accepted the relayed
 * connection, and it closes that connection even while the admission handshake still runs on it.
 * So this module also dials, with backoff, the public addresses of any peer it reaches only
 * through a relay, from either side, and closes the relayed connections once the peer is admitted.
 */
export class ReachabilityMonitor implements Startable {
  readonly #host: Host
  readonly #config: NodeConfig
  readonly #log: Logger
  readonly #observed = new Map<string, number>()
  #state: Reachability = 'unknown'
  #reason = 'no peer has seen this node yet'
  #relayListening = false
  #heldRelays = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  #directUpgrades = 0
  readonly #gate: PeerGate
  readonly #direct = new Map<string, DirectAttempt>()
  #stopped = false

  constructor ({ host, config, log, gate }: ReachabilityOptions) {
    this.#host = host
    this.#config = config
    this.#gate = gate
    this.#log = log.child({ component: 'reachability' })
  }

  async start (): Promise<void> {
    this.#host.addEventListener('peer:identify', this.#onIdentify)
    this.#host.addEventListener('connection:open', this.#onConnectionOpen)
    this.#relayService()?.addEventListener('relay:reservation', this.#onServedReservation)
    this.#timer = setInterval(() => { this.#evaluate() }, EVALUATE_INTERVAL_MS)
    this.#timer.unref()
    if (this.#config.relay) {
      const limits = this.#relayLimits()
      this.#log.info({ maxReservations: this.#config.relayLimits.maxReservations, limits: limits ?? 'none' }, 'serving as a circuit relay for admitted members')
    }
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    this.#host.removeEventListener('peer:identify', this.#onIdentify)
    this.#host.removeEventListener('connection:open', this.#onConnectionOpen)
    this.#relayService()?.removeEventListener('relay:reservation', this.#onServedReservation)
  }

  get reachability (): Reachability {
    return this.#state
  }

  get directUpgrades (): number {
    return this.#directUpgrades
  }

  /** Relays this node holds a reservation on, read from the /p2p-circuit addresses it advertises. */
  reservations (): RelayReservationInfo[] {
    const byRelay = new Map<string, string[]>()
    for (const addr of this.#host.getMultiaddrs()) {
      const route = addr.getComponents()
      const circuitAt = route.findIndex((component) => component.name === 'p2p-circuit')
      if (circuitAt < 0) continue
      const relay = route.slice(0, circuitAt).findLast((component) => component.name === 'p2p')?.value
      if (relay === undefined) continue
      byRelay.set(relay, [...(byRelay.get(relay) ?? []), addr.toString()])
    }
    return [...byRelay].map(([relay, addrs]) => ({ relay, addrs }))
  }

  status (): ReachabilityStatus {
    this.#evaluate()
    const metadata = internalsOf(this.#host)?.addressManager.getAddressesWithMetadata() ?? []
    const service = this.#relayService()
    const served = service === undefined ? [] : [...service.reservations.entries()].map(([peer, reservation]) => ({ peerId: peer.toString(), expiresAt: reservation.expiry.getTime() }))
    return {
      reachability: this.#state,
      reason: this.#reason,
      publicAddrs: this.#confirmedPublic(metadata).map((addr) => addr.toString()),
      observedAddrs: [...this.#observed.keys()],
      reservations: this.reservations(),
      relayService: {
        enabled: this.#config.relay,
        reservations: served,
        maxReservations: this.#config.relayLimits.maxReservations,
        limits: this.#relayLimits()
      },
      upnp: {
        enabled: this.#config.upnp,
        mappings: metadata.filter((addr) => addr.type === 'ip-mapping').map((addr) => ({ addr: addr.multiaddr.toString(), verified: addr.verified }))
      },
      directUpgrades: this.#directUpgrades
    }
  }

  #relayService (): CircuitRelayService | undefined {
    return this.#config.relay ? this.#host.services.circuitRelay as CircuitRelayService | undefined : undefined
  }

  #relayLimits (): { durationMs: number, dataBytes: number } | null {
    const { durationMs, dataBytes } = this.#config.relayLimits
    return durationMs === 0 && dataBytes === 0 ? null : { durationMs, dataBytes }
  }

  #confirmedPublic (metadata: AddressWithMetadata[]): Multiaddr[] {
    return metadata.filter((addr) => addr.verified && !isCircuit(addr.multiaddr) && !isPrivate(addr.multiaddr)).map((addr) => addr.multiaddr)
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const observed = event.detail.observedAddr
    if (observed === undefined || isCircuit(observed) || isPrivate(observed)) return
    const ours = new Set(this.#host.getMultiaddrs().map(hostOf).filter((host) => host !== undefined))
    for (const addr of internalsOf(this.#host)?.addressManager.getAddressesWithMetadata() ?? []) {
      // Only our own interfaces count as "ours": observed and mapped entries are what we are testing.
      if (addr.type === 'transport') {
        const host = hostOf(addr.multiaddr)
        if (host !== undefined) ours.add(host)
      }
    }
    const host = hostOf(observed)
    if (host === undefined || ours.has(host)) return
    const key = observed.toString()
    if (!this.#observed.has(key)) this.#log.debug({ observed: key, by: event.detail.peerId.toString() }, 'a peer sees this node at an address that is not its own')
    this.#observed.set(key, Date.now())
    this.#evaluate()
  }

  readonly #onConnectionOpen = (event: CustomEvent<Connection>): void => {
    const connection = event.detail
    const peer = connection.remotePeer.toString()
    const route = routeOf(connection)
    if (route.route === 'relayed') {
      this.#log.info({ peer, relay: route.relay, direction: connection.direction, limited: route.limited }, 'relayed connection opened')
      if (route.limited) {
        this.#log.warn({ peer, relay: route.relay, limits: route.limits },
          'this relayed connection is limited by its relay: only admission, identify, ping and DCUtR run on it; memory sync, gossip and elections wait for a direct or unlimited connection')
      }
      return
    }
    const relayed = this.#host.getConnections(connection.remotePeer).filter((other) => other !== connection && other.status === 'open' && routeOf(other).route === 'relayed')
    if (relayed.length > 0) {
      this.#directUpgrades++
      this.#log.info({ peer, addr: connection.remoteAddr.toString(), direction: connection.direction }, 'direct connection to a peer reached through a relay: the relayed one is dropped')
    }
  }

  readonly #onServedReservation = (event: CustomEvent<{ addr: Multiaddr, expiry: Date }>): void => {
    this.#log.info({ addr: event.detail.addr.toString(), expiresAt: event.detail.expiry.toISOString() }, 'granted a relay reservation to a member')
  }

  #evaluate (): void {
    const now = Date.now()
    for (const [addr, at] of this.#observed) if (now - at > OBSERVATION_TTL_MS) this.#observed.delete(addr)
    const metadata = internalsOf(this.#host)?.addressManager.getAddressesWithMetadata() ?? []
    const confirmed = this.#confirmedPublic(metadata)
    let next: Reachability
    let reason: string
    if (confirmed.length > 0) {
      next = 'public'
      reason = `reachable at ${confirmed[0]?.toString() ?? ''}${confirmed.length > 1 ? ` (+${confirmed.length - 1})` : ''}`
    } else if (this.#observed.size > 0) {
      next = 'private'
      reason = `behind a NAT: peers see this node at ${[...this.#observed.keys()][0] ?? ''}, which no dial-back has confirmed`
    } else {
      next = 'unknown'
      reason = 'no public address confirmed and no NAT seen yet'
    }
    if (next !== this.#state) this.#log.info({ from: this.#state, to: next, reason }, `reachability: ${next}`)
    this.#state = next
    this.#reason = reason
    if (next === 'private') this.#listenOnRelays()
    this.#trackReservations()
    this.#upgradeRelayed()
  }

  /** Peers reached only through relays, whose own public addresses we have not tried lately. */
  #upgradeRelayed (): void {
    if (this.#stopped) return
    const now = Date.now()
    const relayedOnly = new Map<string, PeerId>()
    const direct = new Set<string>()
    for (const connection of this.#host.getConnections()) {
      if (connection.status !== 'open') continue
      const peer = connection.remotePeer.toString()
      if (routeOf(connection).route === 'direct') direct.add(peer)
      else relayedOnly.set(peer, connection.remotePeer)
    }
    for (const peer of [...this.#direct.keys()]) if (!relayedOnly.has(peer) || direct.has(peer)) this.#direct.delete(peer)
    for (const [peer, peerId] of relayedOnly) {
      if (direct.has(peer)) continue
      let attempt = this.#direct.get(peer)
      if (attempt === undefined) {
        attempt = { nextAt: now + DIRECT_FIRST_DELAY_MS, delayMs: DIRECT_RETRY_MS, running: false }
        this.#direct.set(peer, attempt)
      }
      if (attempt.running || now < attempt.nextAt) continue
      attempt.running = true
      void this.#dialDirect(peerId, attempt)
    }
  }

  async #dialDirect (peerId: PeerId, attempt: DirectAttempt): Promise<void> {
    const peer = peerId.toString()
    let succeeded = false
    try {
      const known = await this.#host.peerStore.get(peerId)
      // Only public addresses: a private one of a peer behind another NAT is someone else's LAN.
      const addrs = known.addresses.map((address) => address.multiaddr)
        .filter((addr) => !isCircuit(addr) && hostOf(addr) !== undefined && !isPrivate(addr))
        .map((addr) => addr.getComponents().some((component) => component.name === 'p2p') ? addr : addr.encapsulate(`/p2p/${peer}`))
      if (addrs.length === 0) return
      const connection = await this.#host.dial(addrs, { signal: AbortSignal.timeout(this.#config.dialTimeoutMs) })
      if (routeOf(connection).route !== 'direct') return
      succeeded = true
      this.#log.info({ peer, addr: connection.remoteAddr.toString() }, 'reached a relayed peer directly')
      if (!await this.#gate.whenAdmitted(peer, ADMISSION_WAIT_MS)) return
      const relayed = this.#host.getConnections(peerId).filter((other) => other.status === 'open' && routeOf(other).route === 'relayed')
      await Promise.all(relayed.map(async (other) => { await other.close().catch(() => {}) }))
    } catch (err) {
      this.#log.debug({ peer, err: (err as Error).message }, 'no direct connection to a relayed peer yet')
    } finally {
      attempt.running = false
      attempt.nextAt = Date.now() + attempt.delayMs
      attempt.delayMs = succeeded ? DIRECT_RETRY_MS : Math.min(attempt.delayMs * 2, DIRECT_MAX_RETRY_MS)
    }
  }

  /** Once private, ask the circuit transport for a relay slot (it finds relays among connected peers). */
  #listenOnRelays (): void {
    if (this.#relayListening || this.#config.relay) return
    const internals = internalsOf(this.#host)
    if (internals === undefined) {
      this.#log.warn('cannot reach libp2p internals: this node will not reserve a relay slot')
      this.#relayListening = true
      return
    }
    this.#relayListening = true
    this.#log.info('this node is not reachable directly: looking for a relay to reserve a slot on')
    internals.transportManager.listen([multiaddr('/p2p-circuit')]).catch((err: Error) => {
      this.#relayListening = false
      this.#log.warn({ err: err.message }, 'could not start listening through relays')
    })
  }

  #trackReservations (): void {
    const now = new Set(this.reservations().map((reservation) => reservation.relay))
    for (const relay of now) if (!this.#heldRelays.has(relay)) this.#log.info({ relay }, 'holding a relay reservation: reachable through the relay')
    for (const relay of this.#heldRelays) if (!now.has(relay)) this.#log.warn({ relay }, 'relay reservation lost: will reserve again when a relay is connected')
    this.#heldRelays = now
  }
}
