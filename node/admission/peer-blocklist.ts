import type { ConnectionGater, PeerId } from '@libp2p/interface'

/**
 * Peers this node refuses to talk to (operator's `peerflow block`): their dials are not made and
 * their connections are refused once their identity is known, on every transport.
 */
export class PeerBlocklist {
  readonly #blocked = new Map<string, number>()

  block (peerId: string, now = Date.now()): void {
    this.#blocked.set(peerId, now)
  }

  unblock (peerId: string): boolean {
    return this.#blocked.delete(peerId)
  }

  has (peerId: string): boolean {
    return this.#blocked.has(peerId)
  }

  list (): Array<{ peerId: string, since: number }> {
    return [...this.#blocked].map(([peerId, since]) => ({ peerId, since }))
  }

  gater (): Partial<ConnectionGater> {
    const denied = async (peer: PeerId): Promise<boolean> => this.#blocked.has(peer.toString())
    return {
      denyDialPeer: denied,
      // Upgraded-connection checks run for QUIC too, whose handshake skips the encryption step.
      denyInboundUpgradedConnection: denied,
      denyOutboundUpgradedConnection: denied
    }
  }
}
