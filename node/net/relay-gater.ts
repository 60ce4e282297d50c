import type { ConnectionGater, PeerId } from '@libp2p/interface'

/**
 * The relay serves members only: a reservation or a relayed connection is granted once every peer
 * involved has passed admission (`isMember` may wait for a handshake in flight). circuit-relay-v2
 * asks the connection gater for both decisions, so this is where the policy lives.
 */
export function relayGater (isMember: (peerId: string) => Promise<boolean>): Partial<ConnectionGater> {
  return {
    denyInboundRelayReservation: async (peer: PeerId) => !await isMember(peer.toString()),
    denyOutboundRelayedConnection: async (source: PeerId, destination: PeerId) =>
      !await isMember(source.toString()) || !await isMember(destination.toString())
  }
}
