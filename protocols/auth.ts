import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'

/**
 * Network admission (`/peerflow/auth/1.0.0`): pure message functions, independent of the transport.
 * Each side sends a fresh nonce and proves it holds the network secret with an HMAC bound to its
 * role, both PeerIds and both nonces, so a proof is worthless in any other session, to any other
 * peer, or reflected back at its author. See PROTOCOL.md (network admission).
 */

export const AUTH_LIMITS = {
  maxFrameBytes: 4 * 1024,
  readTimeoutMs: 5_000,
  nonceBytes: 32,
  /** One handshake each way per connection, plus one in flight on a replaced connection. */
  maxStreams: 2
} as const

/** Separates these MACs from any other use of the same secret. */
export const AUTH_DOMAIN = 'peerflow-auth-v1'

export type AuthRole = 'dialer' | 'listener'

/** Why a side refuses the other, as told on the wire. */
export const AuthRefusalReason = z.enum([
  /** A proof did not verify: the two sides hold different secrets (or one replayed a proof). */
  'wrong-secret',
  /** The peer's PeerId is not on this node's allowlist. */
  'not-allowed',
  /** This node runs in open mode and cannot prove anything. */
  'no-secret',
  /** A message arrived out of order or malformed. */
  'protocol'
])
export type AuthRefusalReason = z.infer<typeof AuthRefusalReason>

/** 32 bytes in standard padded base64 is always 43 symbols and one '='. */
const Bytes32 = z.string()
  .regex(/^[A-Za-z0-9+/]{43}=$/, 'expected 32 bytes in base64')
  .transform((text) => new Uint8Array(Buffer.from(text, 'base64')))

const Refused = z.object({ type: z.literal('auth-refused'), reason: AuthRefusalReason })

/** What the dialer sends (and the listener reads, with `JsonFrames` or `decodeJson`). */
export const DialerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth-hello'), nonce: Bytes32 }),
  z.object({ type: z.literal('auth-proof'), proof: Bytes32 }),
  Refused
])
export type DialerMessage = z.output<typeof DialerMessage>
export type DialerWireMessage = z.input<typeof DialerMessage>

/** What the listener sends (and the dialer reads). */
export const ListenerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth-challenge'), nonce: Bytes32, proof: Bytes32 }),
  z.object({ type: z.literal('auth-welcome') }),
  Refused
])
export type ListenerMessage = z.output<typeof ListenerMessage>
export type ListenerWireMessage = z.input<typeof ListenerMessage>

const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

export const helloMessage = (dialerNonce: Uint8Array): DialerWireMessage => ({ type: 'auth-hello', nonce: toBase64(dialerNonce) })
export const proofMessage = (proof: Uint8Array): DialerWireMessage => ({ type: 'auth-proof', proof: toBase64(proof) })
export const challengeMessage = (listenerNonce: Uint8Array, proof: Uint8Array): ListenerWireMessage =>
  ({ type: 'auth-challenge', nonce: toBase64(listenerNonce), proof: toBase64(proof) })
export const welcomeMessage = (): ListenerWireMessage => ({ type: 'auth-welcome' })
export const refusedMessage = (reason: AuthRefusalReason): DialerWireMessage & ListenerWireMessage => ({ type: 'auth-refused', reason })

export function newNonce (): Uint8Array {
  return new Uint8Array(randomBytes(AUTH_LIMITS.nonceBytes))
}

/** Everything one proof is bound to, from the prover's point of view. */
export interface ProofContext {
  role: AuthRole
  /** PeerId of the side producing the proof. */
  prover: string
  /** PeerId of the side checking it. */
  verifier: string
  dialerNonce: Uint8Array
  listenerNonce: Uint8Array
}

/**
 * HMAC-SHA256(secret, domain | role | prover | verifier | dialer nonce | listener nonce), each field
 * preceded by its length as a 32-bit big-endian integer so no two contexts share an input.
 */
export function computeProof (secret: Uint8Array, context: ProofContext): Uint8Array {
  const fields = [AUTH_DOMAIN, context.role, context.prover, context.verifier]
    .map((text): Uint8Array => Buffer.from(text, 'utf8'))
    .concat([context.dialerNonce, context.listenerNonce])
  const mac = createHmac('sha256', secret)
  for (const field of fields) {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(field.byteLength)
    mac.update(length).update(field)
  }
  return new Uint8Array(mac.digest())
}

export function verifyProof (secret: Uint8Array, context: ProofContext, proof: Uint8Array): boolean {
  const expected = computeProof(secret, context)
  return proof.byteLength === expected.byteLength && timingSafeEqual(proof, expected)
}
