import * as Y from 'yjs'
import type { Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { splitUpdate } from '../../crdt/update-chunks.ts'
import { validateRemoteUpdate, type ValidatedUpdate } from '../../crdt/remote-update.ts'
import { decodeMemoryGossip, encodeMemoryGossip, MEMORY_GOSSIP_LIMITS, memoryTopic } from '../../protocols/memory-gossip.ts'
import type { Sealer } from '../../protocols/sealed.ts'
import { EPOCH_ZERO, EpochMismatchError, sameEpoch, type EpochId } from '../../crdt/epoch.ts'
import { SYNC_LIMITS } from '../../protocols/sync.ts'
import type { RateLimiter } from '../admission/rate-limiter.ts'
import type { Logger } from '../core/logger.ts'
import type { Host } from '../net/host.ts'
import { countReceived, type ReplicaStore, type ReplicationStats } from './replica.ts'
import type { NodeService, ServiceComponents } from './service-components.ts'

/**
 * Largest update one gossip message carries. Receivers' stores refuse a remote update over their
 * chunk cap (the same 256 KiB as a sync update chunk), so a merged batch up to the 512 KiB message
 * cap would be dropped and only arrive with the next anti-entropy round.
 */
const MAX_GOSSIP_UPDATE_BYTES = Math.min(SYNC_LIMITS.maxUpdateChunkBytes, MEMORY_GOSSIP_LIMITS.maxMessageBytes - 256)

export type GossipHost = Pick<Host, 'services'>

export interface MemoryGossipInit {
  store: ReplicaStore
  stats: ReplicationStats
  /** With a network secret, payloads are sealed (protocols/sealed.ts). */
  sealer?: Sealer
  /** Per-peer rate limit on received updates. */
  limiter?: RateLimiter
  /**
   * Asks for a catch-up round with every peer: peers learn a namespace they have never seen through
   * catch-up, and gossip published before they subscribed missed them.
   */
  catchUpAll: () => void
  /** Whether this node replicates a namespace (swarm scope); absent, it replicates all. */
  replicates?: (namespace: string) => boolean
  /** Why an origin may not write a swarm-scoped namespace (not a member); its messages are ignored. */
  refusalFor?: (peer: string, namespace: string) => string | undefined
}

export interface MemoryGossip extends NodeService {
  /** Follows a change of what this node replicates: joins the topics of `namespaces` it now replicates, leaves the others'. */
  rescope: (namespaces: string[]) => void
}

export function createMemoryGossip (components: Pick<ServiceComponents, 'gate' | 'logger'> & { host: GossipHost }, init: MemoryGossipInit): MemoryGossip {
  return new NamespaceGossip(components, init)
}

/** Local updates, coalesced, on one gossipsub topic per namespace; received ones validated once and applied. */
class NamespaceGossip implements MemoryGossip {
  readonly #host: GossipHost
  readonly #gate: ServiceComponents['gate']
  readonly #log: Logger
  readonly #init: MemoryGossipInit
  /** Local updates waiting for the flush, per namespace, with the epoch they were made in. */
  readonly #pending = new Map<string, { epoch: EpochId, updates: Uint8Array[] }>()
  /** What the topic validator decoded and checked, for delivery of the same message without doing it again. */
  readonly #accepted = new WeakMap<Message, { namespace: string, update: ValidatedUpdate, epoch: EpochId }>()
  /** When a refusal for another epoch last asked for catch-up: one round sorts epochs out, so at most one a second. */
  #lastEpochCatchUp = 0
  #flushTimer: NodeJS.Timeout | undefined
  /** performance.now() of the latest local updates, oldest first (at most MEMORY_GOSSIP_LIMITS.busyUpdates). */
  readonly #recentUpdateTimes: number[] = []
  #unsubscribeStore: (() => void) | undefined
  #started = false

  constructor (components: Pick<ServiceComponents, 'gate' | 'logger'> & { host: GossipHost }, init: MemoryGossipInit) {
    this.#host = components.host
    this.#gate = components.gate
    this.#log = components.logger.child({ component: 'memory-gossip' })
    this.#init = init
  }

  isStarted (): boolean {
    return this.#started
  }

  async start (): Promise<void> {
    for (const namespace of this.#init.store.namespaceNames()) this.#subscribe(namespace)
    this.#unsubscribeStore = this.#init.store.onUpdate((namespace, update, origin) => { this.#onStoreUpdate(namespace, update, origin) })
    this.#host.services.pubsub.addEventListener('message', this.#onGossip)
    this.#started = true
  }

  async stop (): Promise<void> {
    this.#started = false
    clearTimeout(this.#flushTimer)
    this.#flush()
    this.#unsubscribeStore?.()
    this.#host.services.pubsub.removeEventListener('message', this.#onGossip)
  }

  rescope (namespaces: string[]): void {
    if (!this.#started) return
    const replicates = this.#init.replicates ?? (() => true)
    for (const namespace of namespaces) {
      if (replicates(namespace)) {
        this.#subscribe(namespace)
        continue
      }
      const topic = memoryTopic(namespace)
      this.#host.services.pubsub.unsubscribe(topic)
      this.#host.services.pubsub.topicValidators.delete(topic)
    }
  }

  #subscribe (namespace: string): void {
    const topic = memoryTopic(namespace)
    const pubsub = this.#host.services.pubsub
    if (pubsub.getTopics().includes(topic)) return
    pubsub.topicValidators.set(topic, (propagationSource, message) => this.#validate(propagationSource.toString(), message))
    pubsub.subscribe(topic)
  }

  #validate (propagationSource: string, message: Message): TopicValidatorResult {
    const { stats, limiter } = this.#init
    if (message.type !== 'signed' || !this.#gate.mayAuthor(message.from.toString())) {
      stats.gossipRejected++
      return TopicValidatorResult.Reject
    }
    // Not misbehaviour: the forwarder's handshake may still be running. Ignoring costs it no score.
    // Its message is sealed under the network key in secret mode, so an outsider learns nothing.
    if (!this.#gate.isAdmitted(propagationSource)) {
      stats.gossipRejected++
      return TopicValidatorResult.Ignore
    }
    if (limiter !== undefined && !limiter.take(propagationSource)) {
      stats.gossipRejected++
      return TopicValidatorResult.Ignore
    }
    try {
      const { namespace, update, epoch } = decodeMemoryGossip(message.topic, this.#openPayload(message.data))
      // A swarm's namespace is written by its members; a newer definition than ours may say
      // otherwise, so ignore rather than penalise (catch-up brings it once the definition arrives).
      if (this.#init.refusalFor?.(message.from.toString(), namespace) !== undefined) return TopicValidatorResult.Ignore
      this.#accepted.set(message, { namespace, update: validateRemoteUpdate(update, MAX_GOSSIP_UPDATE_BYTES), epoch: epoch ?? EPOCH_ZERO })
      return TopicValidatorResult.Accept
    } catch (err) {
      stats.gossipRejected++
      this.#log.warn({ topic: message.topic, err: (err as Error).message }, 'rejected a malformed memory update from gossip')
      return TopicValidatorResult.Reject
    }
  }

  readonly #onGossip = (event: CustomEvent<Message>): void => {
    const message = event.detail
    // Only messages our validator accepted are applied (gossipsub delivers no others on our topics).
    const decoded = this.#accepted.get(message)
    if (decoded === undefined || message.type !== 'signed') return
    this.#init.stats.gossipReceived++
    countReceived(this.#init.stats, decoded.namespace, 'gossip', message.data.byteLength)
    this.#init.store.applyRemote(decoded.namespace, decoded.update, message.from.toString(), decoded.epoch).catch((err: Error) => {
      this.#init.stats.gossipRejected++
      if (err instanceof EpochMismatchError) {
        // Either side may be behind; a catch-up round moves the one that is to the newer epoch.
        this.#log.debug({ namespace: decoded.namespace, from: message.from.toString(), err: err.message }, 'refused a gossiped update of another epoch')
        if (Date.now() - this.#lastEpochCatchUp >= 1_000) {
          this.#lastEpochCatchUp = Date.now()
          this.#init.catchUpAll()
        }
        return
      }
      this.#log.warn({ namespace: decoded.namespace, from: message.from.toString(), err: err.message }, 'could not apply a gossiped update')
    })
  }

  #onStoreUpdate (namespace: string, update: Uint8Array, origin: string): void {
    if (this.#init.replicates?.(namespace) === false) return
    const isNew = !this.#host.services.pubsub.getTopics().includes(memoryTopic(namespace))
    this.#subscribe(namespace)
    if (isNew && origin !== 'local') {
      // Learned by catch-up: gossip published before peers saw our subscription missed us, so
      // catch up once more when the subscription has spread, rather than at the next round.
      setTimeout(() => { if (this.#started) this.#init.catchUpAll() }, MEMORY_GOSSIP_LIMITS.newTopicResyncMs).unref()
    }
    if (origin !== 'local') return
    const epoch = this.#init.store.epochOf(namespace)
    // Updates of an earlier epoch still waiting go out first, under their own epoch.
    if (this.#pending.has(namespace) && !sameEpoch(this.#pending.get(namespace)?.epoch ?? epoch, epoch)) this.#flush()
    const queue = this.#pending.get(namespace) ?? { epoch, updates: [] }
    queue.updates.push(update)
    this.#pending.set(namespace, queue)
    const { coalesceWindowMs, busyCoalesceWindowMs, busyUpdates } = MEMORY_GOSSIP_LIMITS
    const recent = this.#recentUpdateTimes
    recent.push(performance.now())
    if (recent.length > busyUpdates) recent.shift()
    const busy = recent.length === busyUpdates && (recent.at(-1) as number) - (recent[0] as number) < busyCoalesceWindowMs
    this.#flushTimer ??= setTimeout(() => { this.#flush() }, busy ? busyCoalesceWindowMs : coalesceWindowMs)
    if (isNew || this.#host.services.pubsub.getSubscribers(memoryTopic(namespace)).length === 0) this.#init.catchUpAll()
  }

  #flush (): void {
    this.#flushTimer = undefined
    const pubsub = this.#host.services.pubsub
    for (const [namespace, { epoch, updates }] of this.#pending) {
      for (const batch of batchesUnder(updates, MAX_GOSSIP_UPDATE_BYTES)) {
        const merged = batch.length === 1 ? batch[0] as Uint8Array : Y.mergeUpdates(batch)
        // Merging rarely grows a batch, but the cap must hold whatever it does.
        for (const update of splitUpdate(merged, MAX_GOSSIP_UPDATE_BYTES)) {
          this.#init.stats.gossipSent++
          const payload = encodeMemoryGossip({ namespace, update, epoch })
          const sealer = this.#init.sealer
          pubsub.publish(memoryTopic(namespace), sealer === undefined ? payload : sealer.seal(payload)).catch((err: Error) => {
            this.#log.debug({ namespace, err: err.message }, 'gossip publish failed; catch-up will deliver the update')
          })
        }
      }
    }
    this.#pending.clear()
  }

  #openPayload (data: Uint8Array): Uint8Array {
    const sealer = this.#init.sealer
    return sealer === undefined ? data : sealer.open(data)
  }
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
