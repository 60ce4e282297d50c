import { createLibp2p, type Libp2p } from 'libp2p'
import { quic } from '@chainsafe/libp2p-quic'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { bootstrap } from '@libp2p/bootstrap'
import { mdns } from '@libp2p/mdns'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { uPnPNAT } from '@libp2p/upnp-nat'
import type { Registry } from 'prom-client'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import type { NodeConfig } from '../config/config.ts'
import { autoNATWithFreshDialBacks } from './autonat.ts'
import { fastGossipMessageId } from './gossip-message-id.ts'

export interface HostServices {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  [name: string]: unknown
}
export type Host = Libp2p<HostServices>

export class ListenError extends Error {
  override name = 'ListenError'
}

export interface HostOptions {
  config: NodeConfig
  privateKey: PrivateKey
  connectionGater?: ConnectionGater
  /** Where libp2p registers its own Prometheus metrics. */
  metricsRegistry?: Registry
  /** gossipsub's application score for a peer: refused peers go far below the graylist threshold. */
  peerScore?: (peerId: string) => number
}

/** Only the listen addresses whose transport is enabled. */
function enabledListenAddrs (config: NodeConfig): string[] {
  return config.listen.filter((addr) => /\/quic(-v1)?(\/|$)/.test(addr) ? config.quic : /\/tcp\//.test(addr) ? config.tcp : true)
}

/**
 * Assembles libp2p: QUIC first (its own encryption and multiplexing), TCP + noise + yamux as
 * the fallback, identify, ping, gossipsub with strict signing, bootstrap and optional mDNS.
 */
/**
 * A QUIC connection that hears nothing for this long is closed, by each side on its own: after a
 * freeze at least this long (SIGSTOP, a suspended machine) every peer has dropped this node's
 * connections, and it must redial them all.
 */
export const QUIC_MAX_IDLE_TIMEOUT_MS = 10_000

/** How often libp2p's connection monitor pings each connection (its default is 10 s). */
const CONNECTION_PING_INTERVAL_MS = 30_000

export async function createHost ({ config, privateKey, connectionGater, metricsRegistry, peerScore }: HostOptions): Promise<Host> {
  const listen = enabledListenAddrs(config)
  if (listen.length === 0) throw new ListenError('no listen address left: enable QUIC or TCP, or add a --listen address for an enabled transport')
  const transports = []
  if (config.quic) transports.push(quic({ maxIdleTimeout: QUIC_MAX_IDLE_TIMEOUT_MS }))
  if (config.tcp) transports.push(tcp())
  // Every node can dial and be dialled through a relay; it listens through one only once it finds
  // itself unreachable (node/net/reachability-monitor.ts). Relayed addresses are never the only way to dial.
  transports.push(circuitRelayTransport({ reservationCompletionTimeout: 10_000 }))
  try {
    return await createLibp2p({
      privateKey,
      addresses: { listen, ...(config.announce.length > 0 ? { appendAnnounce: config.announce } : {}) },
      transports,
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [
        ...(config.bootstrap.length > 0 ? [bootstrap({ list: config.bootstrap })] : []),
        ...(config.mdns ? [mdns()] : [])
      ],
      connectionGater: {
        // Loopback and private addresses are where tests and LANs live; the default gater refuses them.
        denyDialMultiaddr: async () => false,
        ...connectionGater
      },
      connectionManager: {
        maxConnections: Math.max(config.maxConnections * 2, 16),
        dialTimeout: config.dialTimeoutMs
      },
      // Each ping opens a stream on every connection. At 5 s they were over half of an idle node's
      // CPU in a 30-node mesh (5.0 % against 2.2 % per node at 30 s). QUIC keeps its connections
      // alive and closes a dead one after QUIC_MAX_IDLE_TIMEOUT_MS by itself; a dead TCP
      // connection now takes up to a ping interval and its timeout to notice.
      connectionMonitor: { pingInterval: CONNECTION_PING_INTERVAL_MS },
      ...(metricsRegistry === undefined ? {} : { metrics: prometheusMetrics({ registry: metricsRegistry, collectDefaultMetrics: true, preserveExistingMetrics: true }) }),
      services: {
        identify: identify(),
        ping: ping(),
        // NAT traversal (docs/NAT.md): AutoNAT confirms public addresses, DCUtR replaces relayed
        // connections with direct ones where possible, a --relay node serves admitted members.
        // Tells connected peers when our addresses change (a relay reservation, a confirmed
        // public address), so peer exchange hands out the addresses that reach us now.
        identifyPush: identifyPush(),
        autonat: autoNATWithFreshDialBacks(),
        dcutr: dcutr(),
        ...(config.relay ? { circuitRelay: relayServer(config) } : {}),
        ...(config.upnp ? { upnp: uPnPNAT() } : {}),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          fastMsgIdFn: fastGossipMessageId,
          allowPublishToZeroTopicPeers: true,
          emitSelf: false,
          scoreParams: {
            appSpecificScore: peerScore ?? (() => 0),
            appSpecificWeight: 1,
            // Edge nodes share addresses (NAT, one machine in tests): co-location says nothing here.
            IPColocationFactorWeight: 0
          }
        })
      }
    })
  } catch (err) {
    throw explainListenError(err, listen)
  }
}

/**
 * The relay server. Its limits apply to every reservation alike (circuit-relay-v2 has no per-peer
 * policy), so by default there are none: the connection gater grants slots and circuits to
 * admitted members only (node/net/relay-gater.ts) and `maxReservations` caps the slots.
 */
function relayServer (config: NodeConfig): ReturnType<typeof circuitRelayServer> {
  const { maxReservations, durationMs, dataBytes } = config.relayLimits
  const limited = durationMs > 0 || dataBytes > 0
  return circuitRelayServer({
    reservations: {
      maxReservations,
      applyDefaultLimit: limited,
      // A limit of 0 would cut every circuit at once: an unset dimension gets a practically endless one.
      ...(limited ? { defaultDurationLimit: durationMs > 0 ? durationMs : 2 ** 31 - 1, defaultDataLimit: BigInt(dataBytes > 0 ? dataBytes : Number.MAX_SAFE_INTEGER) } : {})
    }
  })
}

function explainListenError (err: unknown, listen: string[]): Error {
  const message = err instanceof Error ? err.message : String(err)
  if (/EADDRINUSE|address already in use|Address in use/i.test(message)) {
    return new ListenError(`a listen address is already in use (${listen.join(', ')}): choose another with --listen, or stop the node using it`)
  }
  if (/EADDRNOTAVAIL|Cannot assign requested address/i.test(message)) {
    return new ListenError(`cannot listen on ${listen.join(', ')}: the address is not on this machine`)
  }
  return err instanceof Error ? err : new Error(message)
}
