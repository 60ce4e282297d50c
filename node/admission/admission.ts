import { AUTH_PROTOCOL } from '../../protocols/ids.ts'
import { EventEmitter } from 'node:events'
import type { Connection, ConnectionGater, PeerId, Startable, Stream } from '@libp2p/interface'
import {
  AUTH_LIMITS, challengeMessage, computeProof, DialerMessage, helloMessage, ListenerMessage,
  newNonce, proofMessage, refusedMessage, verifyProof, welcomeMessage,
  type AuthRefusalReason, type DialerWireMessage, type ListenerWireMessage
} from '../../protocols/auth.ts'
import { JsonFrames, StreamEndedError, type FrameLimits } from '../../protocols/framing.ts'
import type { Host } from '../net/host.ts'
import type { Logger } from '../core/logger.ts'

export type RefusalReason = AuthRefusalReason | 'timeout' | 'abuse'

export interface Refusal {
  peerId: string
  address: string
  at: number
  reason: RefusalReason
  /** Who refused whom and why, for the log and the operator. */
  detail: string
}

export type AdmissionMode = 'secret' | 'open'

export interface AdmissionEvents {
  'peer:admitted': [peerId: string]
  'peer:refused': [refusal: Refusal]
}

const MAX_REFUSALS_KEPT = 100
/** Peers remembered as abusive at most; beyond it the oldest is forgotten. */
const MAX_ABUSERS_KEPT = 10_000
/** How long a refusing side waits for the peer to read the refusal and hang up itself. */
const REFUSAL_LINGER_MS = 1_000
/** How long a handshake whose stream ended waits for its connection to report closing. */
const CONNECTION_CLOSE_GRACE_MS = 500

export interface PeerBackoffOptions {
  initialMs?: number
  maxMs?: number
  /** Peers remembered at most; beyond it the oldest refusal is forgotten. */
  maxPeers?: number
  now?: () => number
}

interface BackoffEntry {
  until: number
  delayMs: number
}

/**
 * Refused peers, each shut out for a delay that doubles with every refusal (5 s up to 5 min by
 * default). Separate from Admission because libp2p needs the gater before the host exists.
 */
export class PeerBackoff {
  readonly #initialMs: number
  readonly #maxMs: number
  readonly #maxPeers: number
  readonly #now: () => number
  /** Insertion order is refusal order, so the first entries are the stalest. */
  readonly #entries = new Map<string, BackoffEntry>()

  constructor ({ initialMs = 5_000, maxMs = 300_000, maxPeers = 10_000, now = Date.now }: PeerBackoffOptions = {}) {
    this.#initialMs = initialMs
    this.#maxMs = maxMs
    this.#maxPeers = maxPeers
    this.#now = now
  }

  /** Shuts a peer out; a peer already shut out keeps its current delay. Returns the delay. */
  backOff (peerId: string): number {
    const now = this.#now()
    const previous = this.#entries.get(peerId)
    if (previous !== undefined && now < previous.until) return previous.delayMs
    this.#entries.delete(peerId)
    this.#forgetStale(now)
    // A peer that stayed out of trouble for a full maximum delay starts over from the initial delay.
    const delayMs = previous !== undefined && now < previous.until + this.#maxMs
      ? Math.min(previous.delayMs * 2, this.#maxMs)
      : this.#initialMs
    this.#entries.set(peerId, { until: now + delayMs, delayMs })
    return delayMs
  }

  isBackedOff (peerId: string): boolean {
    const entry = this.#entries.get(peerId)
    return entry !== undefined && this.#now() < entry.until
  }

  /** Milliseconds until a backed-off peer may connect again; 0 when it may now. */
  remainingMs (peerId: string): number {
    const entry = this.#entries.get(peerId)
    return entry === undefined ? 0 : Math.max(0, entry.until - this.#now())
  }

  /** Forgets a peer's refusals (it just proved itself). */
  clear (peerId: string): void {
    this.#entries.delete(peerId)
  }

  /** Refuses every connection to or from a backed-off peer, before any protocol runs on it. */
  gater (): Partial<ConnectionGater> {
    const denied = (peerId: PeerId): boolean => this.isBackedOff(peerId.toString())
    return {
      denyDialPeer: denied,
      denyOutboundConnection: denied,
      denyInboundEncryptedConnection: denied
    }
  }

  #forgetStale (now: number): void {
    for (const [peerId, entry] of this.#entries) {
      if (this.#entries.size < this.#maxPeers && now < entry.until + this.#maxMs) break
      this.#entries.delete(peerId)
    }
  }
}

export interface AdmissionOptions {
  host: Host
  /** The network secret; undefined runs in open mode (anyone may join). */
  secret?: Uint8Array
  /** PeerIds allowed to join, read at every handshake; undefined allows any PeerId. */
  allowlist?: () => Set<string> | undefined
  log: Logger
  /** How long a handshake may take, and how long a listener waits for one. Default 5 s. */
  handshakeTimeoutMs?: number
  /** Share the instance whose `gater()` went into createHost. */
  backoff?: PeerBackoff
}

/** A failed handshake: what to record and whether the peer still needs to be told. */
class HandshakeRefusal extends Error {
  override name = 'HandshakeRefusal'
  readonly reason: RefusalReason
  /** Set when the peer refused us: nothing to tell it back. */
  readonly byPeer: boolean

  constructor (reason: RefusalReason, detail: string, byPeer = false) {
    super(detail)
    this.reason = reason
    this.byPeer = byPeer
  }
}

function refusalFromPeer (reason: AuthRefusalReason): HandshakeRefusal {
  const why: Record<AuthRefusalReason, string> = {
    'wrong-secret': 'the peer refused our proof: the network secrets differ',
    'not-allowed': 'the peer refused us: we are not on its allowlist',
    'no-secret': 'the peer runs in open mode, without the network secret',
    protocol: 'the peer refused a malformed handshake'
  }
  return new HandshakeRefusal(reason, why[reason], true)
}

/** The other side's message was not the step expected: its refusal, or a protocol violation. */
function unexpected (message: DialerMessage | ListenerMessage, expected: string): HandshakeRefusal {
  if (message.type === 'auth-refused') return refusalFromPeer(message.reason)
  return new HandshakeRefusal('protocol', `expected ${expected}, received ${message.type}`)
}

/** Either side's frames: both can send a refusal. */
interface RefusalSender {
  write: (message: DialerWireMessage & ListenerWireMessage) => Promise<void>
}

/** The stream stopped under the reader (closed or reset by the other side), rather than carrying a bad message. */
function streamEnded (err: unknown): boolean {
  return err instanceof Error && (err instanceof StreamEndedError || ['UnexpectedEOFError', 'StreamResetError', 'StreamAbortedError', 'StreamClosedError'].includes(err.name))
}

/** What emits 'close': a connection or a stream. */
interface Closable {
  addEventListener: (type: 'close', listener: () => void) => void
  removeEventListener: (type: 'close', listener: () => void) => void
}

/** Resolves once the connection or stream emits 'close', or after `ms`. */
async function closedWithin (closable: Closable, ms: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      closable.removeEventListener('close', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    closable.addEventListener('close', done)
  })
}

/** Gives the peer a moment to read our refusal and hang up itself, so it learns why. */
async function lingerUntilClosed (stream: Stream, ms: number): Promise<void> {
  if (stream.status !== 'open' && stream.status !== 'closing') return
  await closedWithin(stream, ms)
}

/**
 * Network membership. With a secret, every connection runs a mutual challenge-response
 * (`/peerflow/auth/1.0.0`, started by the side that dialled) and a peer that fails it is refused,
 * disconnected and backed off; without one (open mode) every peer is admitted. Either way a
 * PeerId allowlist, when set, is applied. Other protocols serve only peers `isAdmitted`.
 */
export class Admission extends EventEmitter<AdmissionEvents> implements Startable {
  readonly mode: AdmissionMode
  readonly #host: Host
  readonly #secret: Uint8Array | undefined
  readonly #allowlist: () => Set<string> | undefined
  readonly #log: Logger
  readonly #handshakeTimeoutMs: number
  readonly #frameLimits: FrameLimits
  readonly #backoff: PeerBackoff
  readonly #admitted = new Set<string>()
  readonly #refusals: Refusal[] = []
  readonly #waiters = new Map<string, Set<(admitted: boolean) => void>>()
  readonly #timers = new Set<NodeJS.Timeout>()
  /**
   * Peers refused for abuse. A later handshake proves membership, not good behaviour, so it does
   * not reset their backoff: a repeat offender's delay keeps doubling (it decays as PeerBackoff's does).
   */
  readonly #abusers = new Set<string>()

  constructor (options: AdmissionOptions) {
    super()
    this.#host = options.host
    this.#secret = options.secret
    this.mode = options.secret === undefined ? 'open' : 'secret'
    this.#allowlist = options.allowlist ?? (() => undefined)
    this.#log = options.log
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? AUTH_LIMITS.readTimeoutMs
    this.#frameLimits = {
      maxFrameBytes: AUTH_LIMITS.maxFrameBytes,
      readTimeoutMs: Math.min(AUTH_LIMITS.readTimeoutMs, this.#handshakeTimeoutMs)
    }
    this.#backoff = options.backoff ?? new PeerBackoff()
  }

  async start (): Promise<void> {
    await this.#host.handle(AUTH_PROTOCOL, (stream, connection) => this.#answer(stream, connection), {
      maxInboundStreams: AUTH_LIMITS.maxStreams,
      maxOutboundStreams: AUTH_LIMITS.maxStreams,
      // A relay that limits its circuits (bytes or time) marks them limited; the 4 KiB handshake
      // fits, and without it such a connection would count as a refusal (docs/NAT.md).
      runOnLimitedConnection: true
    })
    this.#host.addEventListener('connection:open', this.#onConnectionOpen)
    this.#host.addEventListener('peer:disconnect', this.#onPeerDisconnect)
    if (this.mode === 'open') this.#log.warn('no network secret: running in open mode, any peer that connects is admitted')
  }

  async stop (): Promise<void> {
    this.#host.removeEventListener('connection:open', this.#onConnectionOpen)
    this.#host.removeEventListener('peer:disconnect', this.#onPeerDisconnect)
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    for (const peerId of [...this.#waiters.keys()]) this.#settle(peerId, false)
    await this.#host.unhandle(AUTH_PROTOCOL)
  }

  isAdmitted (peerId: string): boolean {
    return this.#admitted.has(peerId)
  }

  mayAuthor (peerId: string): boolean {
    return this.#allows(peerId)
  }

  admitted (): string[] {
    return [...this.#admitted]
  }

  /** The most recent refusals, oldest first. */
  refused (): Refusal[] {
    return [...this.#refusals]
  }

  /** Whether a peer is shut out by a recent refusal. */
  isBackedOff (peerId: string): boolean {
    return this.#backoff.isBackedOff(peerId)
  }

  gater (): Partial<ConnectionGater> {
    return this.#backoff.gater()
  }

  /**
   * For an explicit join: lifts the backoff of a peer that refused or failed us, since the operator
   * asks to try now. A peer this node refused for abuse stays shut out; the result says for how long.
   */
  retryNow (peerId: string): { allowed: true } | { allowed: false, remainingMs: number } {
    if (!this.#backoff.isBackedOff(peerId)) return { allowed: true }
    if (this.#abusers.has(peerId)) return { allowed: false, remainingMs: this.#backoff.remainingMs(peerId) }
    this.#backoff.clear(peerId)
    return { allowed: true }
  }

  /**
   * Resolves true once the peer is admitted, false if it is refused or `timeoutMs` passes first:
   * for handlers that receive a stream while the peer's handshake is still running.
   */
  async whenAdmitted (peerId: string, timeoutMs: number): Promise<boolean> {
    if (this.#admitted.has(peerId)) return true
    if (this.#backoff.isBackedOff(peerId)) return false
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(peerId) ?? new Set()
      this.#waiters.set(peerId, waiters)
      const timer = setTimeout(() => { settle(false) }, timeoutMs)
      const settle = (admitted: boolean): void => {
        clearTimeout(timer)
        waiters.delete(settle)
        if (waiters.size === 0 && this.#waiters.get(peerId) === waiters) this.#waiters.delete(peerId)
        resolve(admitted)
      }
      waiters.add(settle)
    })
  }

  readonly #onConnectionOpen = (event: CustomEvent<Connection>): void => {
    const connection = event.detail
    const peerId = connection.remotePeer.toString()
    if (this.#admitted.has(peerId)) return
    if (this.#secret === undefined) {
      if (this.#allows(peerId)) this.#admit(peerId)
      else void this.#refuse(connection, new HandshakeRefusal('not-allowed', 'not on our allowlist'))
    } else if (connection.direction === 'outbound') {
      void this.#authenticate(connection, this.#secret)
    } else {
      this.#expectHandshake(connection)
    }
  }

  readonly #onPeerDisconnect = (event: CustomEvent<PeerId>): void => {
    // A returning peer proves itself again, against the allowlist of that moment.
    this.#admitted.delete(event.detail.toString())
  }

  #allows (peerId: string): boolean {
    return this.#allowlist()?.has(peerId) ?? true
  }

  /** Listener side: a peer that has not proved itself when the timeout expires is refused. */
  #expectHandshake (connection: Connection): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      const peerId = connection.remotePeer.toString()
      if (this.#admitted.has(peerId) || connection.status !== 'open') return
      void this.#refuse(connection, new HandshakeRefusal('timeout', `no handshake within ${this.#handshakeTimeoutMs} ms`))
    }, this.#handshakeTimeoutMs)
    this.#timers.add(timer)
  }

  /** Dialer side of the handshake. */
  async #authenticate (connection: Connection, secret: Uint8Array): Promise<void> {
    const self = this.#host.peerId.toString()
    const remote = connection.remotePeer.toString()
    const deadline = AbortSignal.timeout(this.#handshakeTimeoutMs)
    let stream: Stream | undefined
    let frames: JsonFrames<ListenerMessage, DialerWireMessage> | undefined
    const abortOnDeadline = (): void => { stream?.abort(new Error('handshake timed out')) }
    deadline.addEventListener('abort', abortOnDeadline, { once: true })
    try {
      stream = await connection.newStream(AUTH_PROTOCOL, { signal: deadline, runOnLimitedConnection: true })
      frames = new JsonFrames<ListenerMessage, DialerWireMessage>(stream, ListenerMessage, this.#frameLimits)
      if (!this.#allows(remote)) throw new HandshakeRefusal('not-allowed', 'not on our allowlist')
      const dialerNonce = newNonce()
      await frames.write(helloMessage(dialerNonce))
      const challenge = await frames.read()
      if (challenge.type !== 'auth-challenge') throw unexpected(challenge, 'auth-challenge')
      const context = { dialerNonce, listenerNonce: challenge.nonce }
      if (!verifyProof(secret, { ...context, role: 'listener', prover: remote, verifier: self }, challenge.proof)) {
        throw new HandshakeRefusal('wrong-secret', 'the peer\'s proof did not verify: the network secrets differ')
      }
      await frames.write(proofMessage(computeProof(secret, { ...context, role: 'dialer', prover: self, verifier: remote })))
      const verdict = await frames.read()
      if (verdict.type !== 'auth-welcome') throw unexpected(verdict, 'auth-welcome')
    } catch (err) {
      if (await this.#connectionLost(connection, err)) return
      const failure = err instanceof HandshakeRefusal || !deadline.aborted ? err : timeoutRefusal(this.#handshakeTimeoutMs)
      await this.#fail(connection, stream, frames, failure)
      return
    } finally {
      deadline.removeEventListener('abort', abortOnDeadline)
    }
    this.#admit(remote)
    await stream.close().catch(() => {})
  }

  /** Listener side of the handshake (in open mode it only explains why it cannot take part). */
  async #answer (stream: Stream, connection: Connection): Promise<void> {
    const self = this.#host.peerId.toString()
    const remote = connection.remotePeer.toString()
    const frames = new JsonFrames<DialerMessage, ListenerWireMessage>(stream, DialerMessage, this.#frameLimits)
    try {
      const hello = await frames.read()
      if (hello.type !== 'auth-hello') throw unexpected(hello, 'auth-hello')
      if (this.#secret === undefined) {
        await frames.write(refusedMessage('no-secret'))
        await stream.close()
        return
      }
      if (!this.#allows(remote)) throw new HandshakeRefusal('not-allowed', 'not on our allowlist')
      const context = { dialerNonce: hello.nonce, listenerNonce: newNonce() }
      const listenerProof = computeProof(this.#secret, { ...context, role: 'listener', prover: self, verifier: remote })
      await frames.write(challengeMessage(context.listenerNonce, listenerProof))
      const answer = await frames.read()
      if (answer.type !== 'auth-proof') throw unexpected(answer, 'auth-proof')
      if (!verifyProof(this.#secret, { ...context, role: 'dialer', prover: remote, verifier: self }, answer.proof)) {
        throw new HandshakeRefusal('wrong-secret', 'the peer\'s proof did not verify: the network secrets differ, or the proof was replayed')
      }
    } catch (err) {
      if (await this.#connectionLost(connection, err)) return
      await this.#fail(connection, stream, frames, err)
      return
    }
    // Admitted before the welcome is sent, so the dialer's first request already finds it so.
    this.#admit(remote)
    await frames.write(welcomeMessage()).then(async () => { await stream.close() }).catch((err: unknown) => {
      this.#log.debug({ err, peer: remote }, 'could not send the auth welcome')
    })
  }

  /**
   * A handshake cut short because its connection went away (pruned, or the peer hung up) says
   * nothing against the peer: it is not refused or backed off, and a later connection handshakes
   * afresh. Explicit refusals and timeouts still count. A stream that ended while its connection
   * still looks open is given a moment: the connection's own close often arrives just after.
   */
  async #connectionLost (connection: Connection, err: unknown): Promise<boolean> {
    if (err instanceof HandshakeRefusal) return false
    if (connection.status === 'open' && streamEnded(err)) await closedWithin(connection, CONNECTION_CLOSE_GRACE_MS)
    if (connection.status === 'open') return false
    this.#log.debug({ peer: connection.remotePeer.toString(), err: err instanceof Error ? err.message : String(err) }, 'connection closed during the handshake')
    return true
  }

  /** Records a failed handshake, tells the peer why unless it told us, and hangs up. */
  async #fail (connection: Connection, stream: Stream | undefined, frames: RefusalSender | undefined, err: unknown): Promise<void> {
    const refusal = err instanceof HandshakeRefusal
      ? err
      : new HandshakeRefusal('protocol', `handshake failed: ${err instanceof Error ? err.message : String(err)}`)
    const reason = refusal.reason
    const toTell = refusal.byPeer || reason === 'timeout' || reason === 'abuse' ? undefined : reason
    await this.#refuse(connection, refusal, async () => {
      if (stream === undefined || frames === undefined || toTell === undefined) return
      await frames.write(refusedMessage(toTell)).then(async () => { await stream.close() }).catch(() => {})
      await lingerUntilClosed(stream, REFUSAL_LINGER_MS)
    })
  }

  #admit (peerId: string): void {
    if (this.#admitted.has(peerId)) return
    this.#admitted.add(peerId)
    if (!this.#abusers.has(peerId)) this.#backoff.clear(peerId)
    this.#log.info({ peer: peerId, mode: this.mode }, 'peer admitted')
    this.#settle(peerId, true)
    this.emit('peer:admitted', peerId)
  }

  /**
   * Records the refusal and backs the peer off at once (so nothing else serves it meanwhile), runs
   * `beforeHangUp`, then closes every connection to the peer.
   */
  async #refuse (connection: Connection, refusal: HandshakeRefusal, beforeHangUp?: () => Promise<void>): Promise<void> {
    const peerId = connection.remotePeer.toString()
    this.#admitted.delete(peerId)
    if (refusal.reason === 'abuse') this.#rememberAbuser(peerId)
    // One refusal per episode: the connection teardown that follows fails any other handshake in flight.
    const alreadyRefused = this.#backoff.isBackedOff(peerId)
    if (!alreadyRefused) {
      const record: Refusal = { peerId, address: connection.remoteAddr.toString(), at: Date.now(), reason: refusal.reason, detail: refusal.message }
      const backoffMs = this.#backoff.backOff(peerId)
      this.#refusals.push(record)
      if (this.#refusals.length > MAX_REFUSALS_KEPT) this.#refusals.shift()
      this.#log.warn({ peer: peerId, address: record.address, reason: record.reason, backoffMs }, `peer refused: ${record.detail}`)
      this.#settle(peerId, false)
      this.emit('peer:refused', record)
    }
    await beforeHangUp?.()
    await this.#host.hangUp(connection.remotePeer).catch((err: unknown) => {
      this.#log.debug({ err, peer: peerId }, 'could not close the connections of a refused peer')
    })
  }

  /** Revokes an admitted peer that broke a limit (e.g. flooding): recorded, disconnected and backed off. */
  punish (peerId: string, detail: string): void {
    const connection = this.#host.getConnections().find((c) => c.remotePeer.toString() === peerId)
    if (connection === undefined) {
      this.#admitted.delete(peerId)
      this.#rememberAbuser(peerId)
      this.#backoff.backOff(peerId)
      return
    }
    void this.#refuse(connection, new HandshakeRefusal('abuse', detail))
  }

  #rememberAbuser (peerId: string): void {
    this.#abusers.delete(peerId)
    this.#abusers.add(peerId)
    if (this.#abusers.size > MAX_ABUSERS_KEPT) {
      const oldest = this.#abusers.values().next()
      if (oldest.done !== true) this.#abusers.delete(oldest.value)
    }
  }

  #settle (peerId: string, admitted: boolean): void {
    for (const settle of [...this.#waiters.get(peerId) ?? []]) settle(admitted)
  }
}

function timeoutRefusal (timeoutMs: number): HandshakeRefusal {
  return new HandshakeRefusal('timeout', `the handshake did not complete within ${timeoutMs} ms`)
}
