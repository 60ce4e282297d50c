import type { RPC } from '@libp2p/gossipsub/message'

/**
 * Gossipsub's fast message id: the author and sequence number as they arrive, before the
 * signature is checked. Without one, gossipsub verifies every copy of a message before it looks
 * it up among the messages already seen, and each node receives a message from up to a mesh
 * degree of peers; with it, only the first copy is verified. Ids are recorded only for messages
 * that passed verification, so a forged copy cannot shadow the genuine one. Under StrictSign
 * author and sequence number are what the message id is made of anyway.
 */
export function fastGossipMessageId (message: RPC.Message): string {
  const { from, seqno } = message
  if (from === undefined || seqno === undefined) return ''
  return `${bytesToBase64(from)}.${bytesToBase64(seqno)}`
}

function bytesToBase64 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}
