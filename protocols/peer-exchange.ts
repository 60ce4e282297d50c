import { z } from 'zod'

/**
 * Peer exchange: after connecting, a node asks each peer which other peers it is connected to,
 * so a node that joined through one peer learns (and dials) the rest of the network.
 */
export const PEER_EXCHANGE_LIMITS = {
  maxFrameBytes: 64 * 1024,
  readTimeoutMs: 5_000,
  maxPeersPerReply: 50,
  maxAddrsPerPeer: 8,
  maxStreams: 4,
  /** Every connected peer is asked again this often. */
  refreshIntervalMs: 30_000,
  /** After this node gains a relayed address, how long before it asks its peers once more. */
  followUpMs: 4_000
} as const

export const PeerExchangeRequest = z.object({
  type: z.literal('pex-request'),
  /** How many peers the asker wants at most. */
  limit: z.number().int().min(1).max(PEER_EXCHANGE_LIMITS.maxPeersPerReply)
})
export type PeerExchangeRequest = z.infer<typeof PeerExchangeRequest>

export const PeerRecord = z.object({
  peerId: z.string().min(1).max(128),
  addrs: z.array(z.string().min(1).max(512)).max(PEER_EXCHANGE_LIMITS.maxAddrsPerPeer)
})
export type PeerRecord = z.infer<typeof PeerRecord>

export const PeerExchangeReply = z.object({
  type: z.literal('pex-reply'),
  peers: z.array(PeerRecord).max(PEER_EXCHANGE_LIMITS.maxPeersPerReply)
})
export type PeerExchangeReply = z.infer<typeof PeerExchangeReply>
