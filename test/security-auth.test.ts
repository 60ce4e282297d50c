import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { z } from 'zod'
import {
  AUTH_LIMITS, challengeMessage, computeProof, DialerMessage, helloMessage, ListenerMessage, newNonce,
  proofMessage, refusedMessage, verifyProof, welcomeMessage, type ProofContext
} from '../protocols/auth.ts'
import { decodeJson, encodeJson, ProtocolError } from '../protocols/framing.ts'
import { newSecret } from './helpers/hosts.ts'

const DIALER = '12D3KooWDialerDialerDialerDialerDialerDialerDialer'
const LISTENER = '12D3KooWListenerListenerListenerListenerListenerL'
const OTHER = '12D3KooWOtherOtherOtherOtherOtherOtherOtherOtherOth'

function session (): { dialerNonce: Uint8Array, listenerNonce: Uint8Array } {
  return { dialerNonce: newNonce(), listenerNonce: newNonce() }
}

describe('auth proofs', () => {
  const secret = newSecret()
  const first = session()
  const dialerProof: ProofContext = { ...first, role: 'dialer', prover: DIALER, verifier: LISTENER }
  const proof = computeProof(secret, dialerProof)

  it('verify with the same secret and context only', () => {
    expect(proof.byteLength).toBe(32)
    expect(verifyProof(secret, dialerProof, proof)).toBe(true)
    expect(verifyProof(newSecret(), dialerProof, proof)).toBe(false)
  })

  it('cannot be replayed in another session, to another peer, by another peer, or reflected', () => {
    const second = session()
    expect(verifyProof(secret, { ...dialerProof, listenerNonce: second.listenerNonce }, proof)).toBe(false)
    expect(verifyProof(secret, { ...dialerProof, dialerNonce: second.dialerNonce }, proof)).toBe(false)
    expect(verifyProof(secret, { ...dialerProof, verifier: OTHER }, proof)).toBe(false)
    expect(verifyProof(secret, { ...dialerProof, prover: OTHER }, proof)).toBe(false)
    // The listener's own challenge sent back as the dialer's answer.
    const listenerProof = computeProof(secret, { ...first, role: 'listener', prover: LISTENER, verifier: DIALER })
    expect(verifyProof(secret, dialerProof, listenerProof)).toBe(false)
    expect(verifyProof(secret, { ...dialerProof, role: 'listener' }, proof)).toBe(false)
  })

  it('keeps field boundaries: moving a character between PeerIds changes the proof', () => {
    const a = computeProof(secret, { ...first, role: 'dialer', prover: 'ab', verifier: 'c' })
    const b = computeProof(secret, { ...first, role: 'dialer', prover: 'a', verifier: 'bc' })
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false)
  })

  it('rejects a proof of the wrong length without throwing', () => {
    expect(verifyProof(secret, dialerProof, proof.subarray(0, 31))).toBe(false)
    expect(verifyProof(secret, dialerProof, new Uint8Array())).toBe(false)
  })

  it('draws a fresh 32-byte nonce every time', () => {
    const nonces = new Set(Array.from({ length: 100 }, () => Buffer.from(newNonce()).toString('hex')))
    expect(nonces.size).toBe(100)
    expect(newNonce().byteLength).toBe(AUTH_LIMITS.nonceBytes)
  })
})

describe('auth messages', () => {
  it('round-trip through the wire encoding with their bytes intact', () => {
    const nonce = newNonce()
    const proof = newNonce()
    expect(decodeJson(encodeJson(helloMessage(nonce)), DialerMessage)).toEqual({ type: 'auth-hello', nonce })
    expect(decodeJson(encodeJson(proofMessage(proof)), DialerMessage)).toEqual({ type: 'auth-proof', proof })
    expect(decodeJson(encodeJson(challengeMessage(nonce, proof)), ListenerMessage)).toEqual({ type: 'auth-challenge', nonce, proof })
    expect(decodeJson(encodeJson(welcomeMessage()), ListenerMessage)).toEqual({ type: 'auth-welcome' })
    expect(decodeJson(encodeJson(refusedMessage('not-allowed')), DialerMessage)).toEqual({ type: 'auth-refused', reason: 'not-allowed' })
  })

  it('refuses nonces of another length, unknown types and reasons, and messages meant for the other side', () => {
    const bad = [
      { type: 'auth-hello', nonce: Buffer.alloc(31).toString('base64') },
      { type: 'auth-hello', nonce: Buffer.alloc(33).toString('base64') },
      { type: 'auth-hello', nonce: Buffer.alloc(32).toString('base64url') },
      { type: 'auth-hello' },
      { type: 'auth-refused', reason: 'because' },
      { type: 'auth-welcome' },
      { type: 'auth-unknown' },
      [],
      null
    ]
    for (const message of bad) expect(() => decodeJson(encodeJson(message), DialerMessage)).toThrow(ProtocolError)
    expect(() => decodeJson(encodeJson(helloMessage(newNonce())), ListenerMessage)).toThrow(ProtocolError)
  })
})

/** Decoding must end in a message or a ProtocolError: nothing else may escape. */
const bothSides: Array<z.ZodType<unknown>> = [DialerMessage, ListenerMessage]
function decodesOrRefuses (bytes: Uint8Array): void {
  for (const schema of bothSides) {
    try {
      decodeJson(bytes, schema)
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
    }
  }
}

const validFrames = fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }))
  .chain(([nonce, proof]) => fc.constantFrom(
    helloMessage(nonce), proofMessage(proof), challengeMessage(nonce, proof), welcomeMessage(), refusedMessage('wrong-secret')
  ))
  .map((message) => encodeJson(message))

describe('auth decoder properties', () => {
  it('random bytes never throw anything but ProtocolError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: AUTH_LIMITS.maxFrameBytes }), decodesOrRefuses), { numRuns: 500 })
  })

  it('random JSON never throws anything but ProtocolError', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => { decodesOrRefuses(encodeJson(value)) }), { numRuns: 500 })
  })

  it('auth-shaped objects with random fields never throw anything but ProtocolError', () => {
    const shaped = fc.record({
      type: fc.constantFrom('auth-hello', 'auth-proof', 'auth-challenge', 'auth-welcome', 'auth-refused', '__proto__', 'constructor'),
      nonce: fc.oneof(fc.string(), fc.base64String(), fc.integer(), fc.constant(null)),
      proof: fc.oneof(fc.string(), fc.base64String(), fc.array(fc.integer())),
      reason: fc.oneof(fc.string(), fc.constantFrom('wrong-secret', 'not-allowed', 'no-secret', 'protocol'))
    }, { requiredKeys: ['type'] })
    fc.assert(fc.property(shaped, (value) => { decodesOrRefuses(encodeJson(value)) }), { numRuns: 500 })
  })

  it('mutated valid frames never throw anything but ProtocolError', () => {
    const mutated = fc.tuple(validFrames, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'delete')), { minLength: 1, maxLength: 8 }), fc.nat())
      .map(([frame, edits, cut]) => {
        const bytes = [...frame]
        for (const [at, value, edit] of edits) {
          const index = at % (bytes.length + 1)
          if (edit === 'flip') bytes[index % bytes.length] = value
          else if (edit === 'insert') bytes.splice(index, 0, value)
          else bytes.splice(index, 1)
        }
        return new Uint8Array(bytes.slice(0, Math.max(0, bytes.length - (cut % 4))))
      })
    fc.assert(fc.property(mutated, decodesOrRefuses), { numRuns: 1000 })
  })
})
