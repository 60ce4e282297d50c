import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { ProtocolError } from './framing.ts'
import { isNamespaceName } from '../crdt/index.ts'
import { EPOCH_ZERO, readEpochId, writeEpochId, type EpochId } from '../crdt/epoch.ts'

/**
 * Memory gossip: one gossipsub topic per namespace; a message carries one Yjs update (local
 * updates coalesced over a few milliseconds and merged). See PROTOCOL.md.
 */
export const MEMORY_GOSSIP_LIMITS = {
  /** Largest gossip message; a bigger merged update is split across messages. */
  maxMessageBytes: 512 * 1024,
  /** Local updates within this window go out as one message. */
  coalesceWindowMs: 1,
  /**
   * ...or within this one while writes stream in (`busyUpdates` local updates within it): every
   * message costs each node of the network a signature check and its mesh forwarding, whatever it
   * carries, so a stream of small writes goes out as fewer, larger messages. Writes further apart
   * (a client that waits for each to reach its peers) keep the short window and its latency.
   */
  busyCoalesceWindowMs: 10,
  busyUpdates: 4,
  /** About one gossipsub heartbeat: by then peers know of a node's new subscription. */
  newTopicResyncMs: 1_200
} as const

/** 2: the message names the epoch its update belongs to. */
const VERSION = 2
const TOPIC_PREFIX = '/peerflow/memory/1/'

export function memoryTopic (namespace: string): string {
  return `${TOPIC_PREFIX}${namespace}`
}

/** The namespace a topic carries, or undefined when it is not a memory topic. */
export function namespaceOfTopic (topic: string): string | undefined {
  if (!topic.startsWith(TOPIC_PREFIX)) return undefined
  const namespace = topic.slice(TOPIC_PREFIX.length)
  return isNamespaceName(namespace) ? namespace : undefined
}

export interface MemoryGossip {
  namespace: string
  update: Uint8Array
  /** The namespace's epoch (crdt/epoch.ts) the update was made in; other epochs refuse it. Encoded as epoch 0 when absent. */
  epoch?: EpochId
}

export function encodeMemoryGossip (message: MemoryGossip): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, VERSION)
  encoding.writeVarString(encoder, message.namespace)
  encoding.writeVarUint8Array(encoder, message.update)
  writeEpochId(encoder, message.epoch ?? EPOCH_ZERO)
  return encoding.toUint8Array(encoder)
}

/** Decodes a gossip message received on `topic`; the namespace inside must match the topic's. */
export function decodeMemoryGossip (topic: string, bytes: Uint8Array): MemoryGossip {
  if (bytes.byteLength > MEMORY_GOSSIP_LIMITS.maxMessageBytes) throw new ProtocolError(`gossip message of ${bytes.byteLength} bytes exceeds the cap`)
  const topicNamespace = namespaceOfTopic(topic)
  if (topicNamespace === undefined) throw new ProtocolError(`not a memory topic: ${topic.slice(0, 100)}`)
  const decoder = decoding.createDecoder(bytes)
  let message: MemoryGossip
  try {
    const version = decoding.readVarUint(decoder)
    if (version !== VERSION) throw new ProtocolError(`unsupported memory gossip version ${version}`)
    message = { namespace: decoding.readVarString(decoder), update: decoding.readVarUint8Array(decoder), epoch: readEpochId(decoder) }
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError(`malformed memory gossip (${(err as Error).message})`)
  }
  if (decoding.hasContent(decoder)) throw new ProtocolError('trailing bytes after a memory gossip message')
  if (message.namespace !== topicNamespace) throw new ProtocolError(`message for '${message.namespace}' on the topic of '${topicNamespace}'`)
  return message
}
