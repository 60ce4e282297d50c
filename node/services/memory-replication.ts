import * as Y from 'yjs'
import { lpStream } from '@libp2p/utils'
import type { Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Connection, IdentifyResult, PeerId, Startable, Stream } from '@libp2p/interface'
import { ProtocolError } from '../../protocols/framing.ts'
import { SYNC_PROTOCOL } from '../../protocols/ids.ts'
import {
  decodeMemoryGossip, encodeMemoryGossip, MEMORY_GOSSIP_LIMITS, memoryTopic
} from '../../protocols/memory-gossip.ts'
import { decodeSyncMessage, encodeSyncMessage, SYNC_LIMITS, type SyncMessage } from '../../protocols/sync.ts'
import { splitUpdate } from '../../crdt/update-chunks.ts'
import { validateRemoteUpdate, type ValidatedUpdate } from '../../crdt/remote-update.ts'
import type { Host } from '../net/host.ts'
import type { Sealer } from '../../protocols/sealed.ts'
import type { Logger } from '../core/logger.ts'
import { ADMISSION_WAIT_MS, type PeerGate } from '../admission/peer-gate.ts'
import type { RateLimiter } from '../admission/rate-limiter.ts'
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'

/** What replication needs from the local replica (crdt's MemoryStore provides it). */
export interface ReplicaStore {
  namespaceNames: () => string[]
  stateVector: (namespace: string) => Uint8Array
  missingUpdates: (namespace: string, remoteStateVector: Uint8Array) => Uint8Array[]
  applyRemote: (namespace: string, update: Uint8Array | ValidatedUpdate, origin: string) => Promise<void>
  onUpdate: (listener: (namespace: string, update: Uint8Array, origin: string) => void) => () => void
}

export interface ReplicationStats {
  gossipSent: number
  gossipReceived: number
  gossipRejected: number
  syncRounds: number
  syncBytesSent: number
  syncBytesReceived: number
}

const EMPTY_STATE_VECTOR = Y.encodeStateVector(new Y.Doc())
/**
 * Largest update one gossip message carries. Receivers' stores refuse a remote update over their
 * chunk cap (the same 256 KiB as a sync update chunk), so a merged batch up to the 512 KiB message
 * cap would be dropped and only arrive with the next anti-entropy round.
 */
const MAX_GOSSIP_UPDATE_BYTES = Math.min(SYNC_LIMITS.maxUpdateChunkBytes, MEMORY_GOSSIP_LIMITS.maxMessageBytes - 256)
const ANTI_ENTROPY_INTERVAL_MS = 15_000
/** How long an answer waits for this node's own exchange in flight (see #answerSync). */
const ANSWER_WAIT_MS = SYNC_LIMITS.readTimeoutMs - 2_000
/** About one gossipsub heartbeat: by then peers know of a new subscription. */
const NEW_TOPIC_RESYNC_MS = 1_200

/**
 * Keeps this node's replica in step with its peers: gossips local updates (coalesced) on one topic
 * per namespace, and runs state-vector catch-up on every new connection and periodically.
 */
export class MemoryReplication implements Startable {
  readonly #host: Host
  readonly #store: ReplicaStore
  readonly #log: Logger
  readonly #pending = new Map<string, Uint8Array[]>()
  /** What the topic validator decoded and checked, for delivery of the same message without doing it again. */
  readonly #accepted = new WeakMap<Message, { namespace: string, update: ValidatedUpdate }>()
  #flushTimer: NodeJS.Timeout | undefined
  #antiEntropyTimer: NodeJS.Timeout | undefined
  #unsubscribeStore: (() => void) | undefined
  /** For `memory namespaces`: per namespace, the peers that completed a catch-up exchange with us. */
  readonly #inSync = new Map<string, Set<string>>()
  readonly #syncing = new Map<string, Promise<void>>()
  /** The exchange this node started last; the next one waits for it (see syncWith). */
  #lastExchange: Promise<void> = Promise.resolve()
  readonly stats: ReplicationStats = { gossipSent: 0, gossipReceived: 0, gossipRejected: 0, syncRounds: 0, syncBytesSent: 0, syncBytesReceived: 0 }
  #stopped = false

  readonly #gate: PeerGate
  readonly #sealer: Sealer | undefined
  readonly #limiter: RateLimiter | undefined

  constructor (host: Host, store: ReplicaStore, log: Logger, access: { gate: PeerGate, sealer?: Sealer, limiter?: RateLimiter }) {
    this.#host = host
    this.#store = store
    this.#log = log
    this.#gate = access.gate
    this.#sealer = access.sealer
    this.#limiter = access.limiter
  }

  async start (): Promise<void> {
    await this.#host.handle(SYNC_PROTOCOL, (stream, connection) => this.#answerSync(stream, connection), {
      maxInboundStreams: SYNC_LIMITS.maxInboundStreams,
      maxOutboundStreams: SYNC_LIMITS.maxInboundStreams
    })
    for (const namespace of this.#store.namespaceNames()) this.#subscribe(namespace)
    this.#unsubscribeStore = this.#store.onUpdate((namespace, update, origin) => { this.#onStoreUpdate(namespace, update, origin) })
    this.#host.services.pubsub.addEventListener('message', this.#onGossip)
    this.#host.addEventListener('peer:identify', this.#onIdentify)
    this.#antiEntropyTimer = setInterval(() => { this.syncWithAll() }, ANTI_ENTROPY_INTERVAL_MS)
    this.#antiEntropyTimer.unref()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#antiEntropyTimer)
    clearTimeout(this.#flushTimer)
    this.#flush()
    this.#unsubscribeStore?.()
    this.#host.services.pubsub.removeEventListener('message', this.#onGossip)
    this.#host.removeEventListener('peer:identify', this.#onIdentify)
    await this.#host.unhandle(SYNC_PROTOCOL).catch(() => {})
    await Promise.allSettled(this.#syncing.values())
  }

  /** Connected peers that completed a catch-up exchange of `namespace` with us. */
  peersInSync (namespace: string): string[] {
    const connected = new Set(this.#host.getPeers().map((peer) => peer.toString()))
    return [...(this.#inSync.get(namespace) ?? [])].filter((peer) => connected.has(peer))
  }

  /** Runs catch-up with every connected peer (anti-entropy). */
  syncWithAll (): void {
    for (const peer of this.#host.getPeers()) {
      // Peers reached only through a relay-limited circuit are skipped (see #onIdentify).
      if (this.#host.getConnections(peer).some((connection) => connection.limits === undefined)) void this.syncWith(peer)
    }
  }

  /**
   * One catch-up exchange with `peer`; concurrent calls for the same peer share one exchange.
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
      // #initiateSync never rejects, so one failed exchange does not hold up the next.
      const turn = this.#lastExchange.then(async () => { await this.#initiateSync(peer) })
      this.#lastExchange = turn
      await turn
    })().finally(() => { this.#syncing.delete(key) })
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
    if (event.detail.protocols.includes(SYNC_PROTOCOL)) void this.syncWith(event.detail.peerId)
  }

  #subscribe (namespace: string): void {
    const topic = memoryTopic(namespace)
    const pubsub = this.#host.services.pubsub
    if (pubsub.getTopics().includes(topic)) return
    pubsub.topicValidators.set(topic, (propagationSource, message) => this.#validate(propagationSource.toString(), message))
    pubsub.subscribe(topic)
  }

  #validate (propagationSource: string, message: Message): TopicValidatorResult {
    if (!this.#gate.isAdmitted(propagationSource) || message.type !== 'signed' || !this.#gate.isAdmitted(message.from.toString())) {
      this.stats.gossipRejected++
      return TopicValidatorResult.Reject
    }
    if (this.#limiter !== undefined && !this.#limiter.take(propagationSource)) {
      this.stats.gossipRejected++
      return TopicValidatorResult.Ignore
    }
    try {
      const { namespace, update } = decodeMemoryGossip(message.topic, this.#openPayload(message.data))
      this.#accepted.set(message, { namespace, update: validateRemoteUpdate(update, MAX_GOSSIP_UPDATE_BYTES) })
      return TopicValidatorResult.Accept
    } catch (err) {
      this.stats.gossipRejected++
      this.#log.warn({ topic: message.topic, err: (err as Error).message }, 'rejected a malformed memory update from gossip')
      return TopicValidatorResult.Reject
    }
  }

  readonly #onGossip = (event: CustomEvent<Message>): void => {
    const message = event.detail
    // Only messages our validator accepted are applied (gossipsub delivers no others on our topics).
    const decoded = this.#accepted.get(message)
    if (decoded === undefined || message.type !== 'signed') return
    this.stats.gossipReceived++
    this.#store.applyRemote(decoded.namespace, decoded.update, message.from.toString()).catch((err: Error) => {
      this.stats.gossipRejected++
      this.#log.warn({ namespace: decoded.namespace, from: message.from.toString(), err: err.message }, 'could not apply a gossiped update')
    })
  }

  #onStoreUpdate (namespace: string, update: Uint8Array, origin: string): void {
    const isNew = !this.#host.services.pubsub.getTopics().includes(memoryTopic(namespace))
    this.#subscribe(namespace)
    if (isNew && origin !== 'local') {
      // Learned by catch-up: gossip published before peers saw our subscription missed us, so
      // catch up once more when the subscription has spread, rather than at the next round.
      setTimeout(() => { if (!this.#stopped) this.syncWithAll() }, NEW_TOPIC_RESYNC_MS).unref()
    }
    if (origin !== 'local') return
    const queue = this.#pending.get(namespace) ?? []
    queue.push(update)
    this.#pending.set(namespace, queue)
    this.#flushTimer ??= setTimeout(() => { this.#flush() }, MEMORY_GOSSIP_LIMITS.coalesceWindowMs)
    // Peers learn a namespace they have never seen through catch-up; gossip reaches them after.
    if (isNew || this.#host.services.pubsub.getSubscribers(memoryTopic(namespace)).length === 0) this.syncWithAll()
  }

  #flush (): void {
    this.#flushTimer = undefined
    const pubsub = this.#host.services.pubsub
    for (const [namespace, updates] of this.#pending) {
      for (const batch of batchesUnder(updates, MAX_GOSSIP_UPDATE_BYTES)) {
        const merged = batch.length === 1 ? batch[0] as Uint8Array : Y.mergeUpdates(batch)
        // Merging rarely grows a batch, but the cap must hold whatever it does.
        for (const update of splitUpdate(merged, MAX_GOSSIP_UPDATE_BYTES)) {
          this.stats.gossipSent++
          const payload = encodeMemoryGossip({ namespace, update })
          pubsub.publish(memoryTopic(namespace), this.#sealer === undefined ? payload : this.#sealer.seal(payload)).catch((err: Error) => {
            this.#log.debug({ namespace, err: err.message }, 'gossip publish failed; catch-up will deliver the update')
          })
        }
      }
    }
    this.#pending.clear()
  }

  /** With a network secret, gossip payloads are sealed (see protocols/sealed.ts). */
  #openPayload (data: Uint8Array): Uint8Array {
    return this.#sealer === undefined ? data : this.#sealer.open(data)
  }

  async #initiateSync (peer: PeerId): Promise<void> {
    if (this.#stopped) return
    let stream: Stream | undefined
    const span = trace.getTracer('peerflow').startSpan('catch_up', { kind: SpanKind.CLIENT, attributes: { 'peerflow.peer': peer.toString() } })
    const before = { sent: this.stats.syncBytesSent, received: this.stats.syncBytesReceived }
    try {
      stream = await this.#host.dialProtocol(peer, SYNC_PROTOCOL, { signal: AbortSignal.timeout(SYNC_LIMITS.readTimeoutMs) })
      await this.#exchange(stream, peer.toString(), true)
    } catch (err) {
      stream?.abort(err as Error)
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message })
      this.#log.debug({ peer: peer.toString(), err: (err as Error).message }, 'catch-up with peer failed')
    } finally {
      // Approximate when exchanges overlap (answers to peers run concurrently); exact for a lone exchange.
      span.setAttributes({ 'peerflow.sync.bytes_sent': this.stats.syncBytesSent - before.sent, 'peerflow.sync.bytes_received': this.stats.syncBytesReceived - before.received })
      span.end()
    }
  }

  async #answerSync (stream: Stream, connection: Connection): Promise<void> {
    try {
      if (!await this.#gate.whenAdmitted(connection.remotePeer.toString(), ADMISSION_WAIT_MS)) throw new ProtocolError('not admitted to this network')
      // While this node is still pulling a catch-up of its own, a hello sent now would make the
      // asker resend all of it. Waiting (bounded, below the asker's read timeout) lets the hello
      // say what this node has by then; two nodes waiting on each other only lose the bound.
      await Promise.race([this.#lastExchange, new Promise((resolve) => setTimeout(resolve, ANSWER_WAIT_MS).unref())])
      await this.#exchange(stream, connection.remotePeer.toString(), false)
    } catch (err) {
      this.#log.warn({ peer: connection.remotePeer.toString(), err: (err as Error).message }, 'catch-up request failed')
      stream.abort(err as Error)
    }
  }

  /** Both sides: hello (state vectors), then each sends what the other lacks, then done. */
  async #exchange (stream: Stream, peer: string, initiator: boolean): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: SYNC_LIMITS.maxFrameBytes })
    const send = async (message: SyncMessage): Promise<void> => {
      const bytes = encodeSyncMessage(message)
      this.stats.syncBytesSent += bytes.byteLength
      await lp.write(bytes, { signal: AbortSignal.timeout(SYNC_LIMITS.readTimeoutMs) })
    }
    const receive = async (): Promise<SyncMessage> => {
      const signal = AbortSignal.timeout(SYNC_LIMITS.readTimeoutMs)
      const bytes = await lp.read({ signal }).catch((err: Error) => {
        throw signal.aborted ? new ProtocolError(`no sync frame within ${SYNC_LIMITS.readTimeoutMs} ms`) : err
      })
      this.stats.syncBytesReceived += bytes.byteLength
      return decodeSyncMessage(bytes.subarray())
    }
    const ours = new Map(this.#store.namespaceNames().map((namespace) => [namespace, this.#store.stateVector(namespace)]))
    let theirs: Map<string, Uint8Array>
    if (initiator) {
      await send({ type: 'hello', stateVectors: ours })
      theirs = expectHello(await receive())
    } else {
      theirs = expectHello(await receive())
      await send({ type: 'hello', stateVectors: ours })
    }
    const sending = (async () => {
      for (const namespace of new Set([...ours.keys(), ...theirs.keys()])) {
        if (!ours.has(namespace)) continue
        for (const update of this.#store.missingUpdates(namespace, theirs.get(namespace) ?? EMPTY_STATE_VECTOR)) {
          await send({ type: 'update', namespace, update })
        }
      }
      await send({ type: 'done' })
    })()
    const receiving = (async () => {
      // Frames are read as they arrive and applied in order behind the reader. A QUIC stream does
      // not slow its sender down while we are busy applying, so a reader that waited for each
      // apply let libp2p's 4 MiB stream buffer overflow and aborted every large catch-up.
      let applying: Promise<void> = Promise.resolve()
      let failure: Error | undefined
      let backlogBytes = 0
      for (;;) {
        let message
        try {
          message = await receive()
        } catch (err) {
          throw failure ?? err
        }
        if (message.type === 'done') break
        if (message.type === 'error') throw new ProtocolError(`peer reported: ${message.message}`)
        if (message.type !== 'update') throw new ProtocolError(`unexpected ${message.type} during catch-up`)
        backlogBytes += message.update.byteLength
        if (backlogBytes > SYNC_LIMITS.maxBacklogBytes) {
          throw new ProtocolError(`more than ${SYNC_LIMITS.maxBacklogBytes} bytes of updates waiting to be applied`)
        }
        applying = applying.then(async () => {
          if (failure !== undefined) return
          try {
            await this.#store.applyRemote(message.namespace, message.update, peer)
          } catch (err) {
            // A rejected update ends the exchange now, not at the peer's next frame.
            failure = err as Error
            stream.abort(failure)
          }
          backlogBytes -= message.update.byteLength
        })
      }
      await applying
      if (failure !== undefined) throw failure
    })()
    await Promise.all([sending, receiving])
    await stream.close()
    this.stats.syncRounds++
    // Both sides now hold the union of what they had when the exchange began.
    for (const namespace of new Set([...ours.keys(), ...theirs.keys()])) {
      const peers = this.#inSync.get(namespace) ?? new Set<string>()
      peers.add(peer)
      this.#inSync.set(namespace, peers)
    }
  }
}

function expectHello (message: SyncMessage): Map<string, Uint8Array> {
  if (message.type !== 'hello') throw new ProtocolError(`expected hello, got ${message.type}`)
  return message.stateVectors
}

/** Groups updates into runs whose summed size stays under `cap` (a single larger update stands alone). */
function batchesUnder (updates: Uint8Array[], cap: number): Uint8Array[][] {
  const batches: Uint8Array[][] = []
  let current: Uint8Array[] = []
  let size = 0
  for (const update of updates) {
    if (current.length > 0 && size + update.byteLength > cap) {
      batches.push(current)
      current = []
      size = 0
    }
    current.push(update)
    size += update.byteLength
  }
  if (current.length > 0) batches.push(current)
  return batches
}
