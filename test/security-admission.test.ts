import { AUTH_PROTOCOL } from '../protocols/ids.ts'
import { Writable } from 'node:stream'
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import type { Host } from '../node/net/host.ts'
import type { Refusal } from '../node/admission/admission.ts'
import {
  AUTH_LIMITS, computeProof, helloMessage, ListenerMessage, newNonce, proofMessage,
  type DialerWireMessage
} from '../protocols/auth.ts'
import { JsonFrames } from '../protocols/framing.ts'
import { newSecret, quicAddr, TestHosts } from './helpers/hosts.ts'
import { waitFor } from './helpers/nodes.ts'

const hosts = new TestHosts()
afterEach(async () => { await hosts.cleanup() })

const connectionsBetween = (a: Host, b: Host): number => a.getConnections(b.peerId).length + b.getConnections(a.peerId).length

describe('admission with a network secret', () => {
  it('admits two peers with the same secret within a second over QUIC', async () => {
    const secret = newSecret()
    const [a, b] = await Promise.all([hosts.admitting({ secret }), hosts.admitting({ secret })])
    const admittedByB: string[] = []
    b.admission.on('peer:admitted', (peerId) => { admittedByB.push(peerId) })
    const started = Date.now()
    const connection = await a.host.dial(quicAddr(b.host))
    expect(connection.remoteAddr.toString()).toContain('/quic-v1')
    expect(await a.admission.whenAdmitted(b.peerId, 1_000)).toBe(true)
    expect(await b.admission.whenAdmitted(a.peerId, 1_000)).toBe(true)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(a.admission.mode).toBe('secret')
    expect(a.admission.admitted()).toEqual([b.peerId])
    expect(admittedByB).toEqual([a.peerId])
    expect(a.admission.refused()).toEqual([])
    expect(b.admission.refused()).toEqual([])
  })

  it('refuses a peer with another secret on both sides, disconnects it and backs it off', async () => {
    const a = await hosts.admitting({ secret: newSecret() })
    const b = await hosts.admitting({ secret: newSecret() })
    const refusedByB: Refusal[] = []
    b.admission.on('peer:refused', (refusal) => { refusedByB.push(refusal) })
    const verdict = b.admission.whenAdmitted(a.peerId, 5_000)
    await a.host.dial(quicAddr(b.host)).catch(() => {})
    await waitFor('refusals on both sides', () => a.admission.refused().length === 1 && b.admission.refused().length === 1, 3_000)
    expect(await verdict).toBe(false)
    expect(a.admission.refused()[0]).toMatchObject({ peerId: b.peerId, reason: 'wrong-secret' })
    expect(b.admission.refused()[0]).toMatchObject({ peerId: a.peerId, reason: 'wrong-secret' })
    expect(refusedByB.map((refusal) => refusal.reason)).toEqual(['wrong-secret'])
    expect(b.admission.refused()[0]?.address).toContain('/quic-v1')
    await waitFor('connections closed', () => connectionsBetween(a.host, b.host) === 0, 3_000)
    expect(a.admission.isAdmitted(b.peerId)).toBe(false)
    expect(b.admission.isAdmitted(a.peerId)).toBe(false)
    // Each side's gater now refuses the other.
    await expect(a.host.dial(quicAddr(b.host))).rejects.toThrow()
    await expect(b.host.dial(quicAddr(a.host))).rejects.toThrow()
    expect(await b.admission.whenAdmitted(a.peerId, 1_000)).toBe(false)
  })

  it('disconnects a plain libp2p node that never authenticates, and then refuses its connections', async () => {
    const b = await hosts.admitting({ secret: newSecret(), handshakeTimeoutMs: 800 })
    const plain = await hosts.plain()
    await plain.dial(quicAddr(b.host))
    expect(connectionsBetween(plain, b.host)).toBeGreaterThan(0)
    await waitFor('the silent peer refused', () => b.admission.refused().length === 1, 3_000)
    expect(b.admission.refused()[0]).toMatchObject({ peerId: plain.peerId.toString(), reason: 'timeout' })
    await waitFor('connections closed', () => connectionsBetween(plain, b.host) === 0, 3_000)
    expect(b.admission.admitted()).toEqual([])
    // Backed off: b's gater drops the redial before libp2p ever hands b a connection.
    let reopenedOnB = 0
    b.host.addEventListener('connection:open', () => { reopenedOnB++ })
    await plain.dial(quicAddr(b.host)).catch(() => {})
    await waitFor('the redial is dropped', () => connectionsBetween(plain, b.host) === 0, 3_000)
    expect(reopenedOnB).toBe(0)
    expect(b.admission.isAdmitted(plain.peerId.toString())).toBe(false)
  })

  it('refuses a peer that does not speak the auth protocol when dialling it', async () => {
    const a = await hosts.admitting({ secret: newSecret() })
    const plain = await hosts.plain()
    await a.host.dial(quicAddr(plain)).catch(() => {})
    await waitFor('refused', () => a.admission.refused().length === 1, 3_000)
    expect(a.admission.refused()[0]).toMatchObject({ peerId: plain.peerId.toString(), reason: 'protocol' })
    expect(a.admission.isBackedOff(plain.peerId.toString())).toBe(true)
  })

  it('refuses a peer with the right secret that is not on the allowlist', async () => {
    const secret = newSecret()
    const a = await hosts.admitting({ secret })
    const c = await hosts.admitting({ secret })
    const b = await hosts.admitting({ secret, allowlist: new Set([a.peerId]) })
    await c.host.dial(quicAddr(b.host)).catch(() => {})
    await waitFor('refused on both sides', () => b.admission.refused().length === 1 && c.admission.refused().length === 1, 3_000)
    expect(b.admission.refused()[0]).toMatchObject({ peerId: c.peerId, reason: 'not-allowed' })
    expect(c.admission.refused()[0]).toMatchObject({ peerId: b.peerId, reason: 'not-allowed' })
    expect(c.admission.refused()[0]?.detail).toMatch(/not on its allowlist/)

    await a.host.dial(quicAddr(b.host))
    expect(await b.admission.whenAdmitted(a.peerId, 2_000)).toBe(true)
    expect(b.admission.admitted()).toEqual([a.peerId])
  })

  it('lets an explicit retry through its own backoff of a peer that refused it, but not through one for abuse', async () => {
    const secret = newSecret()
    const b = await hosts.admitting({ secret, allowlist: new Set() })
    const c = await hosts.admitting({ secret })
    await c.host.dial(quicAddr(b.host)).catch(() => {})
    await waitFor('c was refused', () => c.admission.refused().length === 1, 3_000)
    expect(c.admission.isBackedOff(b.peerId)).toBe(true)
    expect(c.admission.retryNow(b.peerId)).toEqual({ allowed: true })
    expect(c.admission.isBackedOff(b.peerId)).toBe(false)

    b.admission.punish(c.peerId, 'flooding')
    const retry = b.admission.retryNow(c.peerId)
    expect(retry.allowed).toBe(false)
    expect(retry.allowed ? 0 : retry.remainingMs).toBeGreaterThan(0)
    expect(b.admission.isBackedOff(c.peerId)).toBe(true)
  })
})

/** A hand-driven dialer side, to present chosen nonces and proofs on the wire. */
async function presentProof (dialer: Host, listener: Host, dialerNonce: Uint8Array, proofFor: (listenerNonce: Uint8Array) => Uint8Array): Promise<ListenerMessage> {
  const connection = await dialer.dial(quicAddr(listener))
  const stream = await connection.newStream(AUTH_PROTOCOL)
  const frames = new JsonFrames<ListenerMessage, DialerWireMessage>(stream, ListenerMessage, AUTH_LIMITS)
  await frames.write(helloMessage(dialerNonce))
  const challenge = await frames.read()
  if (challenge.type !== 'auth-challenge') return challenge
  await frames.write(proofMessage(proofFor(challenge.nonce)))
  const verdict = await frames.read()
  await dialer.hangUp(listener.peerId)
  return verdict
}

describe('replayed proofs on the wire', () => {
  it('refuses a captured dialer proof in a new session and at another peer', async () => {
    const secret = newSecret()
    const b = await hosts.admitting({ secret })
    const c = await hosts.admitting({ secret })
    const alice = await hosts.plain()
    const mallory = await hosts.plain()
    const dialerNonce = newNonce()
    let captured: Uint8Array = new Uint8Array()
    const honest = await presentProof(alice, b.host, dialerNonce, (listenerNonce) => {
      captured = computeProof(secret, { role: 'dialer', prover: alice.peerId.toString(), verifier: b.peerId, dialerNonce, listenerNonce })
      return captured
    })
    expect(honest.type).toBe('auth-welcome')
    await waitFor('alice disconnected', () => connectionsBetween(alice, b.host) === 0)

    expect(await presentProof(alice, b.host, dialerNonce, () => captured)).toEqual({ type: 'auth-refused', reason: 'wrong-secret' })
    expect(await presentProof(alice, c.host, dialerNonce, () => captured)).toEqual({ type: 'auth-refused', reason: 'wrong-secret' })
    expect(await presentProof(mallory, c.host, dialerNonce, () => captured)).toEqual({ type: 'auth-refused', reason: 'wrong-secret' })
    expect(b.admission.refused().map((refusal) => refusal.reason)).toEqual(['wrong-secret'])
    expect(c.admission.refused().map((refusal) => refusal.reason)).toEqual(['wrong-secret', 'wrong-secret'])
  })
})

describe('malformed handshakes on the wire', () => {
  const garbage: Array<[string, Uint8Array]> = [
    ['a frame over the 4 KiB cap', new Uint8Array(AUTH_LIMITS.maxFrameBytes + 1).fill(0x20)],
    ['a frame that is not JSON', new TextEncoder().encode('{"type":"auth-hello",')],
    ['a message out of order', new TextEncoder().encode('{"type":"auth-proof","proof":"' + Buffer.alloc(32).toString('base64') + '"}')]
  ]
  for (const [what, frame] of garbage) {
    it(`refuses ${what} and disconnects`, async () => {
      const b = await hosts.admitting({ secret: newSecret() })
      const plain = await hosts.plain()
      const connection = await plain.dial(quicAddr(b.host))
      const stream = await connection.newStream(AUTH_PROTOCOL)
      await lpStream(stream, { maxDataLength: 64 * 1024 }).write(frame).catch(() => {})
      await waitFor('refused', () => b.admission.refused().length === 1, 3_000)
      expect(b.admission.refused()[0]).toMatchObject({ peerId: plain.peerId.toString(), reason: 'protocol' })
      await waitFor('disconnected', () => connectionsBetween(plain, b.host) === 0, 3_000)
    })
  }
})

describe('open mode', () => {
  it('admits everyone, warns once, and still applies the allowlist', async () => {
    const lines: string[] = []
    const sink = new Writable({ write (chunk: Buffer, _encoding, done) { lines.push(chunk.toString()); done() } })
    const a = await hosts.admitting({ log: pino({ level: 'warn' }, sink) })
    const b = await hosts.admitting()
    const c = await hosts.admitting()
    const d = await hosts.admitting({ allowlist: new Set([a.peerId]) })
    expect(a.admission.mode).toBe('open')
    expect(lines.filter((line) => line.includes('open mode'))).toHaveLength(1)

    await a.host.dial(quicAddr(b.host))
    expect(await a.admission.whenAdmitted(b.peerId, 1_000)).toBe(true)
    expect(await b.admission.whenAdmitted(a.peerId, 1_000)).toBe(true)

    await a.host.dial(quicAddr(d.host))
    expect(await d.admission.whenAdmitted(a.peerId, 1_000)).toBe(true)
    await c.host.dial(quicAddr(d.host)).catch(() => {})
    await waitFor('c refused by d', () => d.admission.refused().length === 1, 3_000)
    expect(d.admission.refused()[0]).toMatchObject({ peerId: c.peerId, reason: 'not-allowed' })
    await waitFor('c disconnected', () => connectionsBetween(c.host, d.host) === 0, 3_000)
  })

  it('a node with a secret refuses an open node it dials', async () => {
    const secured = await hosts.admitting({ secret: newSecret() })
    const open = await hosts.admitting()
    await secured.host.dial(quicAddr(open.host)).catch(() => {})
    await waitFor('refused', () => secured.admission.refused().length === 1, 3_000)
    expect(secured.admission.refused()[0]).toMatchObject({ peerId: open.peerId, reason: 'no-secret' })
    await waitFor('disconnected', () => connectionsBetween(secured.host, open.host) === 0, 3_000)
  })
})
