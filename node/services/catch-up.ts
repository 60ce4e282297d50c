import * as Y from 'yjs'
import { lpStream } from '@libp2p/utils'
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { Connection, IdentifyResult, PeerId, Stream } from '@libp2p/interface'
import { ProtocolError } from '../../protocols/framing.ts'
import { SYNC_PROTOCOL } from '../../protocols/ids.ts'
import { planSend } from '../../protocols/namespace-scope.ts'
import { SyncSession, type SyncSessionAction, type SyncSessionEvent } from '../../protocols/sync-session.ts'
import { decodeSyncMessage, encodeSyncMessage, SYNC_LIMITS, type SyncMessage } from '../../protocols/sync.ts'
import { ADMISSION_WAIT_MS } from '../admission/peer-gate.ts'
import type { Logger } from '../core/logger.ts'
import { EPOCH_ZERO, EpochMismatchError, type EpochId } from '../../crdt/epoch.ts'
import { EpochAssembler, epochFrames, epochsOf, planNamespaceSend, withEpochs } from './epoch-transfer.ts'
import { countReceived, type ReplicaStore, type ReplicationStats } from './replica.ts'
import type { NodeService, ProtocolHost, ServiceComponents } from './service-components.ts'

const EMPTY_STATE_VECTOR = Y.encodeStateVector(new Y.Doc())
/**
 * A pull that received no frame for this long is stuck (its peer paused, killed or cut off, its
 * connection not yet known dead): an answer waiting for it goes ahead.
 */
const STALLED_AFTER_MS = 1_000

export interface CatchUpInit {
  store: ReplicaStore
  stats: ReplicationStats
  /** Why `peer` may not hold a swarm-scoped namespace it asks for; absent, every peer may hold everything. */
  refusalFor?: (peer: string, namespace: string) => string | undefined
}

/** A scoped namespace a peer would not send this node, and why. */
export interface CatchUpRefusal {
  namespace: string
  peer: string
  reason: string
  at: number
}

export interface CatchUp extends NodeService {
  /** Runs catch-up with every directly connected peer. */
  syncWithAll (): void
  /** Runs catch-up with a few directly connected peers chosen at random (an anti-entropy round). */
  syncWithSome (): void
  /** One exchange with `peer`; concurrent calls for the same peer share it. */
  syncWith (peer: PeerId): Promise<void>
  /** Connected peers that completed an exchange of `namespace` with this node. */
  peersInSync (namespace: string): string[]
  /** The latest refusal per namespace this node asked for (cleared by a later exchange that carries it). */
  refusals (): CatchUpRefusal[]
}

export function createCatchUp (components: Pick<ServiceComponents, 'gate' | 'logger'> & { host: ProtocolHost }, init: CatchUpInit): CatchUp {
  return new StateVectorCatchUp(components, init)
}

/**
 * State-vector catch-up (`/peerflow/sync/1.1.0`): the I/O around the pure SyncSession. Runs on every
 * new connection this node dialled (again after a running exchange, if one was running), when the
 * process resumes after a freeze, periodically, and on demand.
 */
class StateVectorCatchUp implements CatchUp {
  readonly #host: ProtocolHost
  readonly #self: string
  readonly #gate: ServiceComponents['gate']
  readonly #log: Logger
  readonly #store: ReplicaStore
  readonly #stats: ReplicationStats
  readonly #inSync = new Map<string, Set<string>>()
  readonly #syncing = new Map<string, Promise<void>>()
  /** Peers that connected again while an exchange with them ran: one more exchange follows it. */
  readonly #rerun = new Set<string>()
  readonly #refusals = new Map<string, CatchUpRefusal>()
  readonly #refusalFor: (peer: string, namespace: string) => string | undefined
  /** The exchange this node started last; the next one waits for it (see syncWith). */
  #lastExchange: Promise<void> = Promise.resolve()
  /** When this node last received a catch-up frame from any peer. */
  #lastFrameAt = 0
  #antiEntropyTimer: NodeJS.Timeout | undefined
  #started = false

  constructor (components: Pick<ServiceComponents, 'gate' | 'logger'> & { host: ProtocolHost }, init: CatchUpInit) {
    this.#host = components.host
    this.#self = components.host.peerId.toString()
    this.#gate = components.gate
    this.#log = components.logger.child({ component: 'catch-up' })
    this.#store = init.store
    this.#stats = init.stats
    this.#refusalFor = init.refusalFor ?? (() => undefined)
  }

  isStarted (): boolean {
    return this.#started
  }

  async start (): Promise<void> {
    await this.#host.handle(SYNC_PROTOCOL, (stream, connection) => this.#answer(stream, connection), {
      maxInboundStreams: SYNC_LIMITS.maxInboundStreams,
      maxOutboundStreams: SYNC_LIMITS.maxInboundStreams
    })
    this.#host.addEventListener('peer:identify', this.#onIdentify)
    this.#antiEntropyTimer = setInterval(() => { this.syncWithSome() }, SYNC_LIMITS.antiEntropyIntervalMs)
    this.#antiEntropyTimer.unref()
    this.#started = true
  }

  async stop (): Promise<void> {
    this.#started = false
    clearInterval(this.#antiEntropyTimer)
    this.#host.removeEventListener('peer:identify', this.#onIdentify)
    await this.#host.unhandle(SYNC_PROTOCOL).catch(() => {})
    await Promise.allSettled(this.#syncing.values())
  }

  peersInSync (namespace: string): string[] {
    const connected = new Set(this.#host.getPeers().map((peer) => peer.toString()))
    return [...(this.#inSync.get(namespace) ?? [])].filter((peer) => connected.has(peer))
  }

  refusals (): CatchUpRefusal[] {
    return [...this.#refusals.values()]
  }

  syncWithAll (): void {
    for (const peer of this.#directPeers()) void this.syncWith(peer)
  }

  syncWithSome (): void {
    const peers = this.#directPeers()
    // A partial Fisher-Yates shuffle: the first antiEntropyPeers places get a uniform random sample.
    const count = Math.min(SYNC_LIMITS.antiEntropyPeers, peers.length)
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(Math.random() * (peers.length - i))
      const chosen = peers[j] as PeerId
      peers[j] = peers[i] as PeerId
      peers[i] = chosen
      void this.syncWith(chosen)
    }
  }

  /** Connected peers with a direct connection: one reached only through a relay-limited circuit cannot carry catch-up (see #onIdentify). */
  #directPeers (): PeerId[] {
    return this.#host.getPeers().filter((peer) => this.#host.getConnections(peer).some((connection) => connection.limits === undefined))
  }

  /**
   * Exchanges this node starts run one after another, so each begins from what the previous ones
   * brought in: run at once, every peer sent a restarted node the same missing data.
   */
  async syncWith (peer: PeerId): Promise<void> {
    const key = peer.toString()
    const running = this.#syncing.get(key)
    if (running !== undefined) return running
    const exchange = (async () => {
      // Waiting for a peer's admission must not hold up exchanges with admitted peers.
      if (!await this.#gate.whenAdmitted(key, ADMISSION_WAIT_MS)) return
      // #initiate never rejects, so one failed exchange does not hold up the next.
      const turn = this.#lastExchange.then(async () => { await this.#initiate(peer) })
      this.#lastExchange = turn
      await turn
    })().finally(() => {
      this.#syncing.delete(key)
      if (this.#rerun.delete(key) && this.#started) void this.syncWith(peer)
    })
    this.#syncing.set(key, exchange)
    return exchange
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    // Only the dialler starts catch-up on a new connection (PROTOCOL.md): when both sides did, every
    // missing update crossed the link twice, in two concurrent exchanges.
    if (event.detail.connection.direction !== 'outbound') return
    // A relay-limited connection cannot carry catch-up (libp2p refuses the stream, and dialling for
    // one opens yet another limited circuit): gossip through members and a later direct connection do.
    if (event.detail.connection.limits !== undefined) return
    if (!event.detail.protocols.includes(SYNC_PROTOCOL)) return
    // An exchange still running began before this connection: on the connection that just died
    // (the peer was paused, killed or cut off), or before what the peer did meanwhile. Sharing it
    // would leave the reconnection without a catch-up until the next anti-entropy round.
    const key = event.detail.peerId.toString()
    if (this.#syncing.has(key)) this.#rerun.add(key)
    else void this.syncWith(event.detail.peerId)
  }

  async #initiate (peer: PeerId): Promise<void> {
    if (!this.#started) return
    let stream: Stream | undefined
    const span = trace.getTracer('peerflow').startSpan('catch_up', { kind: SpanKind.CLIENT, attributes: { 'peerflow.peer': peer.toString() } })
    const before = { sent: this.#stats.syncBytesSent, received: this.#stats.syncBytesReceived }
    const startedAt = Date.now()
    this.#log.debug({ peer: peer.toString() }, 'catch-up started')
    try {
      stream = await this.#dial(peer)
      await this.#exchange(stream, peer.toString(), true)
      this.#log.debug({ peer: peer.toString(), ms: Date.now() - startedAt, bytesReceived: this.#stats.syncBytesReceived - before.received }, 'catch-up finished')
    } catch (err) {
      stream?.abort(err as Error)
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message })
      this.#log.debug({ peer: peer.toString(), err: (err as Error).message }, 'catch-up with peer failed')
    } finally {
      // Approximate when exchanges overlap (answers to peers run concurrently); exact for a lone exchange.
      span.setAttributes({ 'peerflow.sync.bytes_sent': this.#stats.syncBytesSent - before.sent, 'peerflow.sync.bytes_received': this.#stats.syncBytesReceived - before.received })
      span.end()
    }
  }

  /**
   * Opens a sync stream within the read timeout. The QUIC muxer keeps the dial's abort signal for
   * the stream's lifetime, so a plain AbortSignal.timeout aborted every exchange 10 s after it
   * began: a large catch-up on a busy machine failed and restarted at each anti-entropy round.
   */
  async #dial (peer: PeerId): Promise<Stream> {
    const dialing = new AbortController()
    const timer = setTimeout(() => { dialing.abort(new ProtocolError(`no sync stream within ${SYNC_LIMITS.readTimeoutMs} ms`)) }, SYNC_LIMITS.readTimeoutMs)
    try {
      return await this.#host.dialProtocol(peer, SYNC_PROTOCOL, { signal: dialing.signal })
    } finally {
      clearTimeout(timer)
    }
  }

  async #answer (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer.toString()
    try {
      if (!await this.#gate.whenAdmitted(remote, ADMISSION_WAIT_MS)) throw new ProtocolError('not admitted to this network')
      // Both sides asked each other at once (each redialled the other after a fault). One exchange
      // carries both directions, so only the one started by the smaller PeerId runs: the smaller
      // side refuses at once, which also ends the wait below on the other side.
      if (this.#syncing.has(remote) && this.#self < remote) {
        await refuse(stream, 'an exchange with you started by this side is running')
        return
      }
      // While this node is still pulling a catch-up of its own, a hello sent now would make the
      // asker resend all of it. Waiting (bounded, below the asker's read timeout, and not for a pull
      // that is stuck) lets the hello say what this node has by then.
      await this.#settledOrStalled(this.#lastExchange, SYNC_LIMITS.answerWaitMs)
      await this.#exchange(stream, remote, false)
    } catch (err) {
      this.#log.warn({ peer: remote, err: (err as Error).message }, 'catch-up request failed')
      stream.abort(err as Error)
    }
  }

  /**
   * Resolves when `previous` (this node's running pulls) ends, when no catch-up frame arrived for
   * STALLED_AFTER_MS, or after `maxWaitMs`. Waiting on a pull stuck with a frozen or dead peer held
   * up the answer to a peer that came back, for up to answerWaitMs (8 s) per exchange.
   */
  async #settledOrStalled (previous: Promise<void>, maxWaitMs: number): Promise<void> {
    const waitingSince = Date.now()
    let timer: NodeJS.Timeout | undefined
    const stalled = new Promise<void>((resolve) => {
      const check = (): void => {
        const now = Date.now()
        if (now - waitingSince >= maxWaitMs || now - Math.max(this.#lastFrameAt, waitingSince) >= STALLED_AFTER_MS) resolve()
        else timer = setTimeout(check, 100)
      }
      timer = setTimeout(check, 100)
    })
    await Promise.race([previous, stalled])
    clearTimeout(timer)
  }

  /** One exchange, with the replica's compaction held off until it ends (it would stall the transfer). */
  async #exchange (stream: Stream, peer: string, initiator: boolean): Promise<void> {
    const releaseCompaction = this.#store.holdCompaction()
    try {
      await this.#converse(stream, peer, initiator)
    } finally {
      releaseCompaction()
    }
  }

  /** Drives one SyncSession over `stream`: frames in become events, actions become frames and applies. */
  async #converse (stream: Stream, peer: string, initiator: boolean): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: SYNC_LIMITS.maxFrameBytes })
    const send = async (message: SyncMessage): Promise<void> => {
      const bytes = encodeSyncMessage(withEpochs(message, ourEpochs))
      this.#stats.syncBytesSent += bytes.byteLength
      await lp.write(bytes, { signal: AbortSignal.timeout(SYNC_LIMITS.readTimeoutMs) })
    }
    const receive = async (): Promise<SyncMessage> => {
      const signal = AbortSignal.timeout(SYNC_LIMITS.readTimeoutMs)
      const bytes = await lp.read({ signal }).catch((err: Error) => {
        throw signal.aborted ? new ProtocolError(`no sync frame within ${SYNC_LIMITS.readTimeoutMs} ms`) : err
      })
      this.#stats.syncBytesReceived += bytes.byteLength
      this.#lastFrameAt = Date.now()
      const message = decodeSyncMessage(bytes.subarray())
      if (message.type === 'update') countReceived(this.#stats, message.namespace, 'sync', bytes.byteLength)
      return message
    }
    const ours = new Map(this.#store.namespaceNames().map((namespace) => [namespace, this.#store.stateVector(namespace)]))
    const ourEpochs = epochsOf(this.#store, ours.keys())
    let theirEpochs = new Map<string, EpochId>()
    const assembler = new EpochAssembler(this.#store, peer)
    const session = new SyncSession({ initiator, ours })
    let sending: Promise<void> = Promise.resolve()
    // Frames are read as they arrive and handed to the store at once: a QUIC stream does not slow
    // its sender while we apply, so a reader that waited for each apply overflowed libp2p's stream
    // buffer on large catch-ups. The store's queue keeps them in order and applies whatever has
    // arrived as one transaction and one disk batch (one chunk per commit cost a round of both per
    // 256 KiB). The session bounds what may wait (maxBacklogBytes).
    const applying = new Set<Promise<void>>()
    let failure: Error | undefined
    let completed: string[] | undefined
    const refusedHere = new Set<string>()
    const fail = (err: Error): void => {
      failure ??= err
      stream.abort(err)
    }
    const feed = (event: SyncSessionEvent): void => {
      try {
        perform(session.handle(event))
      } catch (err) {
        fail(err as Error)
      }
    }
    const perform = (actions: SyncSessionAction[]): void => {
      for (const action of actions) {
        // Every step catches its own failure: a rejected promise nobody awaits would end the process.
        if (action.type === 'send') {
          sending = sending.then(async () => { if (failure === undefined) await send(action.message) }).catch((err: Error) => { fail(err) })
        } else if (action.type === 'send-missing') {
          sending = sending.then(async () => {
            if (failure !== undefined) return
            await this.#sendMissing(peer, ours, action.theirStateVectors, send, ourEpochs, theirEpochs)
            feed({ type: 'sent-all' })
          }).catch((err: Error) => { fail(err) })
        } else if (action.type === 'apply') {
          if (failure !== undefined) continue
          const applied = this.#store.applyRemote(action.namespace, action.update, peer, theirEpochs.get(action.namespace) ?? EPOCH_ZERO).then(
            () => { if (failure === undefined) feed({ type: 'applied', bytes: action.update.byteLength }) },
            (err: Error) => {
              if (err instanceof EpochMismatchError) {
                // One namespace rolled over during the exchange: the rest goes on; the next round sorts the epochs out.
                this.#log.debug({ peer, err: err.message }, 'skipped an update of another epoch')
                if (failure === undefined) feed({ type: 'applied', bytes: action.update.byteLength })
                return
              }
              // A rejected update ends the exchange now, not at the peer's next frame.
              fail(err)
            }
          )
          applying.add(applied)
          void applied.finally(() => applying.delete(applied))
        } else if (action.type === 'apply-epoch') {
          if (failure !== undefined) continue
          // Frames are assembled in arrival order; the adoption queues behind the updates already handed to the store.
          const adopted = assembler.add(action.epoch).then(
            (result) => {
              if (result === true) this.#log.info({ peer, namespace: action.epoch.namespace }, 'adopted a newer epoch')
              if (failure === undefined) feed({ type: 'applied', bytes: action.epoch.part.byteLength })
            },
            (err: Error) => { fail(err) }
          )
          applying.add(adopted)
          void adopted.finally(() => applying.delete(adopted))
        } else if (action.type === 'refused') {
          refusedHere.add(action.namespace)
          this.#refusals.set(action.namespace, { namespace: action.namespace, peer, reason: action.reason, at: Date.now() })
          this.#log.warn({ peer, namespace: action.namespace, reason: action.reason }, 'a peer refused to send a namespace this node asked for')
        } else {
          completed = action.namespaces
        }
      }
    }
    feed({ type: 'open' })
    for (;;) {
      let message: SyncMessage
      try {
        message = await receive()
      } catch (err) {
        throw failure ?? err
      }
      if (message.type === 'hello') theirEpochs = message.epochs ?? theirEpochs
      try {
        perform(session.handle({ type: 'received', message }))
      } catch (err) {
        fail(err as Error)
      }
      if (failure !== undefined || message.type === 'done') break
    }
    await Promise.all([sending, ...applying])
    if (failure !== undefined) throw failure
    if (completed === undefined) throw new ProtocolError(`exchange ended in phase ${session.phase}`)
    // Bounded like every other step: exchanges a node starts run one after another, so one close
    // waiting forever on a stalled peer would stop this node's catch-up for good.
    await stream.close({ signal: AbortSignal.timeout(SYNC_LIMITS.readTimeoutMs) })
    this.#stats.syncRounds++
    // Both sides now hold the union of what they had when the exchange began.
    for (const namespace of completed) {
      // Neither a namespace the peer refused nor one it may not hold is in sync with it.
      if (refusedHere.has(namespace) || this.#refusalFor(peer, namespace) !== undefined) continue
      this.#refusals.delete(namespace)
      const peers = this.#inSync.get(namespace) ?? new Set<string>()
      peers.add(peer)
      this.#inSync.set(namespace, peers)
    }
  }

  async #sendMissing (
    peer: string, ours: Map<string, Uint8Array>, theirs: Map<string, Uint8Array>, send: (message: SyncMessage) => Promise<void>,
    ourEpochs: Map<string, EpochId>, theirEpochs: Map<string, EpochId>
  ): Promise<void> {
    const plan = planSend(ours.keys(), theirs.keys(), (namespace) => this.#refusalFor(peer, namespace))
    for (const { namespace, reason } of plan.refused) await send({ type: 'refused', namespace, reason })
    for (const namespace of plan.send) {
      const epochPlan = planNamespaceSend(this.#store, namespace, ourEpochs.get(namespace) ?? EPOCH_ZERO, theirEpochs.get(namespace) ?? EPOCH_ZERO)
      if (epochPlan === 'epoch') for (const frame of epochFrames(this.#store, namespace)) await send(frame)
      if (epochPlan !== 'updates') continue
      for (const update of this.#store.missingUpdates(namespace, theirs.get(namespace) ?? EMPTY_STATE_VECTOR)) {
        await send({ type: 'update', namespace, update })
      }
    }
    await send({ type: 'done' })
  }
}

/** Declines an exchange with an error frame the asker reads as the reason. */
async function refuse (stream: Stream, reason: string): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: SYNC_LIMITS.maxFrameBytes })
  await lp.write(encodeSyncMessage({ type: 'error', message: reason }), { signal: AbortSignal.timeout(SYNC_LIMITS.readTimeoutMs) })
  await stream.close({ signal: AbortSignal.timeout(SYNC_LIMITS.readTimeoutMs) })
}
