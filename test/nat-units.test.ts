import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { defaults, validateConfig } from '../node/config/config.ts'
import { shareableAddrs } from '../node/services/peer-exchange-service.ts'
import { relayGater } from '../node/net/relay-gater.ts'
import { routeOf } from '../node/net/connection-route.ts'

/** The pieces of NAT traversal that need no network: addresses shared, routes shown, relay policy, config. */

const RELAY = '12D3KooWHbUfJZh4Bo9idjmjQn36Sj5D8bc3pDdrLCkdoNCjApPT'
const PEER = '12D3KooWQiCt5Ra7TrGRNSXews84mS1vXVtSXzprEiYj3Zs4HGoQ'
const OTHER = '12D3KooWDNV8X3arx6XruqkVDdhwRY74amDWSKuSAcr4uGEUrYeg'

function fakeConnection (remoteAddr: string, limits?: Connection['limits']): Connection {
  return { remoteAddr: multiaddr(remoteAddr), limits } as unknown as Connection
}

describe('peer exchange addresses', () => {
  it('keeps relayed addresses (after the direct ones) so members behind a NAT can be found', () => {
    const shared = shareableAddrs([
      `/ip6/3fff:200:0:10::2/tcp/4433/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`,
      '/ip4/0.0.0.0/tcp/4433',
      `/ip4/192.0.2.7/udp/4433/quic-v1/p2p/${PEER}`,
      '/p2p-circuit'
    ])
    expect(shared).toEqual([
      '/ip4/192.0.2.7/udp/4433/quic-v1',
      `/ip6/3fff:200:0:10::2/tcp/4433/p2p/${RELAY}/p2p-circuit`
    ])
  })

  it('always leaves room for two relayed addresses within the per-peer cap', () => {
    const direct = Array.from({ length: 10 }, (_, i) => `/ip4/192.0.2.${i + 1}/tcp/4433`)
    const relayed = [1, 2, 3].map((i) => `/ip4/198.51.100.${i}/tcp/4433/p2p/${RELAY}/p2p-circuit`)
    const shared = shareableAddrs([...relayed, ...direct])
    expect(shared).toHaveLength(8)
    expect(shared.filter((addr) => addr.includes('/p2p-circuit'))).toEqual(relayed.slice(0, 2))
  })
})

describe('connection routes', () => {
  it('tells direct from relayed connections, names the relay and flags limits', () => {
    expect(routeOf(fakeConnection(`/ip4/192.0.2.7/tcp/4433/p2p/${PEER}`))).toEqual({ route: 'direct', relay: null, limited: false, limits: null })
    expect(routeOf(fakeConnection(`/ip6/3fff::2/tcp/4433/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`))).toEqual({ route: 'relayed', relay: RELAY, limited: false, limits: null })
    expect(routeOf(fakeConnection(`/ip6/3fff::2/tcp/4433/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`, { bytes: 131072n, seconds: 120 })))
      .toEqual({ route: 'relayed', relay: RELAY, limited: true, limits: { bytes: '131072', seconds: 120 } })
  })
})

describe('relay policy', () => {
  const members = new Set([PEER, RELAY])
  const gater = relayGater(async (peerId) => members.has(peerId))

  it('grants reservations to members only', async () => {
    expect(await gater.denyInboundRelayReservation?.(peerIdFromString(PEER))).toBe(false)
    expect(await gater.denyInboundRelayReservation?.(peerIdFromString(OTHER))).toBe(true)
  })

  it('relays a circuit only when both ends are members', async () => {
    expect(await gater.denyOutboundRelayedConnection?.(peerIdFromString(PEER), peerIdFromString(RELAY))).toBe(false)
    expect(await gater.denyOutboundRelayedConnection?.(peerIdFromString(OTHER), peerIdFromString(PEER))).toBe(true)
    expect(await gater.denyOutboundRelayedConnection?.(peerIdFromString(PEER), peerIdFromString(OTHER))).toBe(true)
  })
})

describe('NAT config', () => {
  it('defaults to no relay service, no UPnP, and unlimited circuits for members', () => {
    const config = defaults(join(tmpdir(), 'peerflow-nat-units'))
    expect(config.relay).toBe(false)
    expect(config.upnp).toBe(false)
    expect(config.announce).toEqual([])
    expect(config.relayLimits).toEqual({ maxReservations: 64, durationMs: 0, dataBytes: 0 })
  })

  it('fills in relay limits a config file leaves out, and refuses malformed ones', () => {
    const base = defaults(join(tmpdir(), 'peerflow-nat-units'))
    expect(validateConfig({ ...base, relayLimits: { dataBytes: 1_048_576 } }).relayLimits).toEqual({ maxReservations: 64, durationMs: 0, dataBytes: 1_048_576 })
    expect(() => validateConfig({ ...base, relayLimits: { dataBytes: -1 } })).toThrow(/relayLimits\.dataBytes/)
    expect(() => validateConfig({ ...base, announce: ['not-a-multiaddr'] })).toThrow(/announce/)
  })
})
