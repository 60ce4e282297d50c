import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PeerId, Startable } from '@libp2p/interface'
import type { Host } from './host.ts'
import type { Logger } from '../core/logger.ts'

const CHECK_INTERVAL_MS = 500
const FIRST_RETRY_MS = 500
const MAX_RETRY_MS = 30_000

interface Target {
  addrs: Multiaddr[]
  /** Bootstrap peers are kept forever; remembered peers only while they are wanted. */
  permanent: boolean
  nextAttemptAt: number
  retryMs: number
  dialling: boolean
  /** Bumped when this node resumes from a freeze: a dial started before it says nothing about the peer. */
  epoch: number
}

/**
 * Keeps this node connected to the peers it should be connected to (bootstrap peers, peers it
 * joined, peers remembered from before a restart), redialling with capped exponential backoff.
 * A lost connection is redialled at once, and the backoff a fault left behind is dropped as soon as
 * the peer is back (it connected to us) or this node is (unblocked it, resumed after a freeze).
 */
export class Reconnector implements Startable {
  readonly #host: Host
  readonly #log: Logger
  readonly #dialTimeoutMs: number
  readonly #targets = new Map<string, Target>()
  #timer: NodeJS.Timeout | undefined

  constructor (host: Host, log: Logger, dialTimeoutMs: number) {
    this.#host = host
    this.#log = log
    this.#dialTimeoutMs = dialTimeoutMs
  }

  /** `addrs` must end in /p2p/<peerId>. */
  keep (peerId: string, addrs: string[], permanent: boolean): void {
    const parsed = addrs.flatMap((addr) => { try { return [multiaddr(addr)] } catch { return [] } })
    if (parsed.length === 0 || peerId === this.#host.peerId.toString()) return
    const existing = this.#targets.get(peerId)
    this.#targets.set(peerId, {
      addrs: parsed,
      permanent: permanent || (existing?.permanent ?? false),
      nextAttemptAt: existing?.nextAttemptAt ?? 0,
      retryMs: existing?.retryMs ?? FIRST_RETRY_MS,
      dialling: existing?.dialling ?? false,
      epoch: existing?.epoch ?? 0
    })
  }

  release (peerId: string): void {
    this.#targets.delete(peerId)
  }

  /** Stops redialling a peer learned at run time; a configured (permanent) peer is still redialled. */
  releaseLearned (peerId: string): void {
    if (this.#targets.get(peerId)?.permanent === false) this.#targets.delete(peerId)
  }

  /** Forgets the backoff of `peerId` (of every target when omitted) and dials what is not connected now. */
  redialNow (peerId?: string): void {
    for (const [id, target] of this.#targets) {
      if (peerId === undefined || id === peerId) resetBackoff(target)
    }
    this.#check()
  }

  /**
   * After this process was frozen, every connection it holds may be dead without knowing yet, or
   * half-open (a peer's dial made during the freeze, which that peer gave up on): each would pass for
   * connected and keep the peer from being redialled. So every target is dialled on a new
   * connection, and failures of dials started before the freeze no longer set any backoff.
   */
  redialAfterFreeze (): void {
    for (const [peerId, target] of this.#targets) {
      resetBackoff(target)
      target.epoch++
      this.#dial(peerId, target, true)
    }
  }

  async start (): Promise<void> {
    this.#host.addEventListener('peer:connect', this.#onConnect)
    this.#host.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#timer = setInterval(() => { this.#check() }, CHECK_INTERVAL_MS)
    this.#timer.unref()
    this.#check()
  }

  async stop (): Promise<void> {
    this.#host.removeEventListener('peer:connect', this.#onConnect)
    this.#host.removeEventListener('peer:disconnect', this.#onDisconnect)
    clearInterval(this.#timer)
    this.#targets.clear()
  }

  /** The peer reached us (after a partition, or restarted): its failed redials say nothing any more. */
  readonly #onConnect = (event: CustomEvent<PeerId>): void => {
    const target = this.#targets.get(event.detail.toString())
    if (target !== undefined) resetBackoff(target)
  }

  /** Redial at once rather than at the next check; a peer that is really gone backs off from here. */
  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    if (this.#targets.has(event.detail.toString())) this.#check()
  }

  #check (): void {
    const now = Date.now()
    // From the connections: getPeers() parses every PeerId again, which at 30 peers and a check
    // every 500 ms was a few percent of a node's CPU.
    const connected = new Set(this.#host.getConnections().map((connection) => connection.remotePeer.toString()))
    for (const [peerId, target] of this.#targets) {
      if (connected.has(peerId)) {
        resetBackoff(target)
        continue
      }
      if (target.dialling || now < target.nextAttemptAt) continue
      this.#dial(peerId, target, false)
    }
  }

  #dial (peerId: string, target: Target, force: boolean): void {
    const epoch = target.epoch
    target.dialling = true
    this.#host.dial(target.addrs, { signal: AbortSignal.timeout(this.#dialTimeoutMs), force })
      .then(() => {
        this.#log.info({ peer: peerId }, 'reconnected')
        target.retryMs = FIRST_RETRY_MS
      })
      .catch((err: Error) => {
        this.#log.debug({ peer: peerId, err: err.message }, 'redial failed')
        if (target.epoch !== epoch) return
        target.nextAttemptAt = Date.now() + target.retryMs
        target.retryMs = Math.min(target.retryMs * 2, MAX_RETRY_MS)
      })
      .finally(() => { if (target.epoch === epoch) target.dialling = false })
  }
}

function resetBackoff (target: Target): void {
  target.retryMs = FIRST_RETRY_MS
  target.nextAttemptAt = 0
}
