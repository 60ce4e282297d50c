import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { z } from 'zod'
import { decodeJson, encodeJson, ProtocolError } from '../protocols/framing.ts'
import {
  decodeMemoryGossip, encodeMemoryGossip, MEMORY_GOSSIP_LIMITS, memoryTopic, namespaceOfTopic
} from '../protocols/memory-gossip.ts'
import { PEER_EXCHANGE_LIMITS, PeerExchangeReply, PeerExchangeRequest } from '../protocols/peer-exchange.ts'
import { decodeRaftMessage, RAFT_LIMITS, toWire, type RaftMessage } from '../protocols/raft/messages.ts'
import { sealerFor } from '../protocols/sealed.ts'
import { SwarmReply, SwarmRequest } from '../protocols/swarm.ts'
import { decodeSyncMessage, encodeSyncMessage, SYNC_LIMITS, type SyncMessage } from '../protocols/sync.ts'
import { decodeOrRefuse, embedded, mutated, within } from './helpers/fuzz.ts'
import { newSecret } from './helpers/hosts.ts'

const RUNS = { numRuns: 400 }
const MANY_RUNS = { numRuns: 1_000 }

const namespaceName = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/)
/** Byte strings the size of state vectors and small updates. */
const bytes = fc.uint8Array({ maxLength: 96 })
const anyText = fc.string({ unit: 'binary', maxLength: 80 })
/** Epoch 0, or a later epoch with its hex id. */
const epochId = fc.oneof(
  fc.constant({ number: 0, id: '' }),
  fc.record({ number: fc.integer({ min: 1, max: 2 ** 31 }), id: fc.stringMatching(/^[0-9a-f]{1,32}$/) })
)

describe('sync frames (decodeSyncMessage)', () => {
  const message: fc.Arbitrary<SyncMessage> = fc.oneof(
    fc.uniqueArray(fc.tuple(namespaceName, bytes, epochId), { maxLength: 6, selector: ([name]) => name }).map((entries): SyncMessage => ({
      type: 'hello',
      stateVectors: new Map(entries.map(([name, stateVector]) => [name, stateVector])),
      epochs: new Map(entries.map(([name, , epoch]) => [name, epoch]))
    })),
    fc.record({ type: fc.constant('epoch' as const), namespace: namespaceName, record: bytes, part: fc.uint8Array({ maxLength: 512 }), final: fc.boolean() }),
    fc.record({ type: fc.constant('update' as const), namespace: namespaceName, update: fc.uint8Array({ maxLength: 512 }) }),
    fc.constant<SyncMessage>({ type: 'done' }),
    fc.record({ type: fc.constant('error' as const), message: anyText })
  )
  const frames = message.map(encodeSyncMessage)

  it('round-trips every valid message', () => {
    fc.assert(fc.property(message, (original) => {
      const decoded = decodeSyncMessage(encodeSyncMessage(original))
      expect(decoded).toEqual(original.type === 'error' ? { ...original, message: original.message.slice(0, 500) } : original)
    }), RUNS)
  })

  it('random bytes: a message or a ProtocolError, quickly', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2_048 }), (frame) => { decodeOrRefuse(() => decodeSyncMessage(frame)) }), MANY_RUNS)
  })

  it('mutated frames: a message or a ProtocolError, and never bytes from outside the frame', () => {
    fc.assert(fc.property(mutated(frames), (frame) => {
      const view = embedded(frame)
      const decoded = decodeOrRefuse(() => decodeSyncMessage(view))
      if (decoded?.type === 'update') expect(within(decoded.update, view)).toBe(true)
      if (decoded?.type === 'hello') for (const stateVector of decoded.stateVectors.values()) expect(within(stateVector, view)).toBe(true)
    }), MANY_RUNS)
  })

  it('refuses oversized frames, too many namespaces and oversized state vectors', () => {
    expect(() => decodeSyncMessage(new Uint8Array(SYNC_LIMITS.maxFrameBytes + 1))).toThrow(ProtocolError)
    const tooMany = new Map(Array.from({ length: SYNC_LIMITS.maxNamespacesPerHello + 1 }, (_, i) => [`ns-${i}`, new Uint8Array()]))
    expect(() => decodeSyncMessage(encodeSyncMessage({ type: 'hello', stateVectors: tooMany }))).toThrow(/namespaces/)
    const big = new Map([['big', new Uint8Array(SYNC_LIMITS.maxStateVectorBytes + 1)]])
    expect(() => decodeSyncMessage(encodeSyncMessage({ type: 'hello', stateVectors: big }))).toThrow(/too large/)
    // A count announcing 2^32 namespaces in a 6-byte frame: refused, not looped over.
    expect(() => decodeOrRefuse(() => decodeSyncMessage(new Uint8Array([0, 0xff, 0xff, 0xff, 0xff, 0x0f])))).not.toThrow()
    expect(() => decodeSyncMessage(encodeSyncMessage({ type: 'update', namespace: '../etc', update: new Uint8Array() }))).toThrow(/invalid namespace/)
  })
})

describe('memory gossip payloads (decodeMemoryGossip)', () => {
  const topic = fc.oneof(
    namespaceName.map(memoryTopic),
    anyText.map((name) => memoryTopic(name)),
    anyText
  )
  const payload = fc.tuple(namespaceName, fc.uint8Array({ maxLength: 512 }))
    .map(([namespace, update]) => encodeMemoryGossip({ namespace, update }))

  it('random topics and bytes: a message for the topic\'s namespace or a ProtocolError', () => {
    fc.assert(fc.property(topic, fc.oneof(fc.uint8Array({ maxLength: 1_024 }), payload), (name, data) => {
      const decoded = decodeOrRefuse(() => decodeMemoryGossip(name, data))
      if (decoded !== undefined) expect(decoded.namespace).toBe(namespaceOfTopic(name))
    }), MANY_RUNS)
  })

  it('mutated payloads on their own topic: a message or a ProtocolError, never bytes from outside the frame', () => {
    const onTopic = fc.tuple(namespaceName, fc.uint8Array({ maxLength: 512 }))
      .chain(([namespace, update]) => fc.tuple(fc.constant(memoryTopic(namespace)), mutated(fc.constant(encodeMemoryGossip({ namespace, update })))))
    fc.assert(fc.property(onTopic, ([name, data]) => {
      const view = embedded(data)
      const decoded = decodeOrRefuse(() => decodeMemoryGossip(name, view))
      if (decoded !== undefined) {
        expect(decoded.namespace).toBe(namespaceOfTopic(name))
        expect(within(decoded.update, view)).toBe(true)
      }
    }), MANY_RUNS)
  })

  it('refuses a payload moved to another namespace\'s topic, and oversized ones', () => {
    const data = encodeMemoryGossip({ namespace: 'shared-knowledge', update: new Uint8Array([0]) })
    expect(() => decodeMemoryGossip(memoryTopic('task-queue'), data)).toThrow(/on the topic of 'task-queue'/)
    expect(() => decodeMemoryGossip(memoryTopic('shared-knowledge'), new Uint8Array(MEMORY_GOSSIP_LIMITS.maxMessageBytes + 1))).toThrow(ProtocolError)
  })
})

describe('election messages (decodeRaftMessage)', () => {
  const memberId = fc.string({ minLength: 1, maxLength: RAFT_LIMITS.maxMemberIdChars })
  const counter = fc.nat()
  const valid: fc.Arbitrary<RaftMessage> = fc.oneof(
    fc.record({ type: fc.constantFrom('prevote' as const, 'vote' as const), term: counter, candidate: memberId }),
    fc.record({ type: fc.constantFrom('prevote-reply' as const, 'vote-reply' as const), term: counter, granted: fc.boolean() }),
    fc.record({ type: fc.constant('heartbeat' as const), term: counter, leader: memberId, seq: counter, members: fc.uniqueArray(memberId, { minLength: 1, maxLength: 8 }) }, { requiredKeys: ['type', 'term', 'leader', 'seq'] }),
    fc.record({ type: fc.constant('heartbeat-ack' as const), term: counter, seq: counter })
  )
  /** What a sender could put in each field instead: wrong types, out of range, prototype keys. */
  const field = fc.oneof(
    fc.integer(), fc.double(), fc.constantFrom(-1, 2 ** 53, 1e308, 0.5), anyText, fc.boolean(), fc.constant(null),
    fc.array(anyText, { maxLength: 70 }), fc.dictionary(anyText, fc.integer(), { maxKeys: 3 })
  )
  const shaped = fc.record({
    v: fc.oneof(fc.constant(1), field),
    type: fc.oneof(fc.constantFrom('prevote', 'prevote-reply', 'vote', 'vote-reply', 'heartbeat', 'heartbeat-ack', '__proto__', 'constructor', 'toString'), field),
    term: field,
    candidate: field,
    leader: field,
    granted: field,
    seq: field,
    members: field,
    extra: field
  }, { requiredKeys: [] })

  it('round-trips every valid message through its wire form', () => {
    fc.assert(fc.property(valid, (message) => {
      expect(decodeRaftMessage(JSON.parse(JSON.stringify(toWire(message))))).toEqual(message)
    }), RUNS)
  })

  it('any JSON value: a message or a ProtocolError', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => { decodeOrRefuse(() => decodeRaftMessage(value)) }), MANY_RUNS)
  })

  it('message-shaped objects with hostile fields: a message or a ProtocolError', () => {
    fc.assert(fc.property(shaped, (value) => {
      // Through JSON, as they arrive: parsing turns a "__proto__" key into a plain own property.
      decodeOrRefuse(() => decodeRaftMessage(JSON.parse(JSON.stringify(value))))
    }), MANY_RUNS)
  })

  it('mutated wire frames that still parse as JSON: a message or a ProtocolError', () => {
    const text = valid.map((message) => encodeJson(toWire(message)))
    fc.assert(fc.property(mutated(text), (frame) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(new TextDecoder().decode(frame))
      } catch {
        return // the transport refuses a frame that is not JSON before decoding it
      }
      decodeOrRefuse(() => decodeRaftMessage(parsed))
    }), MANY_RUNS)
  })

  it('refuses a "__proto__" member, duplicate members and unknown fields', () => {
    const heartbeat = { v: 1, type: 'heartbeat', term: 1, leader: 'a', seq: 0 }
    expect(() => decodeRaftMessage(JSON.parse('{"v":1,"type":"vote","term":1,"candidate":"a","__proto__":{"granted":true}}'))).toThrow(ProtocolError)
    expect(() => decodeRaftMessage({ ...heartbeat, members: ['a', 'a'] })).toThrow(/unique/)
    expect(() => decodeRaftMessage({ ...heartbeat, leader: 'x'.repeat(RAFT_LIMITS.maxMemberIdChars + 1) })).toThrow(ProtocolError)
    expect(() => decodeRaftMessage({ ...heartbeat, v: 2 })).toThrow(/unsupported version/)
  })

  it('refuses a deeply nested version field with a ProtocolError', () => {
    const depth = 30_000
    const frame = `{"v":${'['.repeat(depth)}${']'.repeat(depth)},"type":"vote","term":1,"candidate":"a"}`
    expect(frame.length).toBeLessThan(RAFT_LIMITS.maxFrameBytes)
    expect(() => decodeRaftMessage(JSON.parse(frame))).toThrow(ProtocolError)
  })
})

describe('peer exchange and swarm frames (decodeJson with their schemas)', () => {
  const schemas: Array<[string, z.ZodType<unknown>]> = [
    ['PeerExchangeRequest', PeerExchangeRequest],
    ['PeerExchangeReply', PeerExchangeReply],
    ['SwarmRequest', SwarmRequest],
    ['SwarmReply', SwarmReply]
  ]
  const decodeWithEvery = (frame: Uint8Array): void => {
    for (const [, schema] of schemas) decodeOrRefuse(() => decodeJson(frame, schema))
  }
  const swarmName = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,47}$/)
  const peerRecord = fc.record({ peerId: fc.string({ minLength: 1, maxLength: 128 }), addrs: fc.array(fc.string({ minLength: 1, maxLength: 64 }), { maxLength: 8 }) })
  const definition = fc.record({
    name: swarmName,
    topology: fc.constantFrom('hierarchical', 'mesh', 'ring', 'adaptive'),
    maxAgents: fc.integer({ min: 1, max: 1000 }),
    members: fc.array(fc.string({ minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 8 }),
    roles: fc.dictionary(fc.string({ maxLength: 20 }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }), { maxKeys: 4 }),
    createdBy: fc.string(),
    createdAt: fc.integer(),
    version: fc.integer({ min: 1, max: 1_000 })
  })
  const validMessages = fc.oneof(
    fc.record({ type: fc.constant('pex-request'), limit: fc.integer({ min: 1, max: PEER_EXCHANGE_LIMITS.maxPeersPerReply }) }),
    fc.record({ type: fc.constant('pex-reply'), peers: fc.array(peerRecord, { maxLength: 6 }) }),
    fc.record({ type: fc.constant('join'), swarm: swarmName, roles: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }) }),
    fc.record({ type: fc.constant('leave'), swarm: swarmName }),
    fc.record({ type: fc.constant('ok'), term: fc.nat(), definition }),
    fc.record({ type: fc.constant('not-leader'), leader: fc.option(fc.string(), { nil: null }) }),
    fc.record({ type: fc.constant('error'), message: fc.string({ maxLength: 500 }) })
  )

  it('every valid message decodes with its own schema', () => {
    fc.assert(fc.property(validMessages, (message) => {
      const frame = encodeJson(message)
      const decoded = schemas.map(([, schema]) => decodeOrRefuse(() => decodeJson(frame, schema))).filter((value) => value !== undefined)
      expect(decoded).toEqual([message])
    }), RUNS)
  })

  it('random bytes and random JSON: a message or a ProtocolError, for every schema', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1_024 }), decodeWithEvery), RUNS)
    fc.assert(fc.property(fc.jsonValue(), (value) => { decodeWithEvery(encodeJson(value)) }), RUNS)
  })

  it('message-shaped objects with hostile fields: a message or a ProtocolError, for every schema', () => {
    const hostile = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(-1, 1e308, 0.5, '__proto__'), fc.string({ unit: 'binary', maxLength: 600 }))
    const shaped = fc.record({
      type: fc.oneof(fc.constantFrom('pex-request', 'pex-reply', 'join', 'leave', 'ok', 'not-leader', 'error', '__proto__', 'constructor'), hostile),
      limit: hostile, peers: fc.oneof(hostile, fc.array(hostile, { maxLength: 60 })), swarm: hostile, roles: hostile,
      term: hostile, definition: hostile, leader: hostile, message: hostile
    }, { requiredKeys: ['type'] })
    fc.assert(fc.property(shaped, (value) => { decodeWithEvery(encodeJson(value)) }), MANY_RUNS)
  })

  it('mutated valid frames: a message or a ProtocolError, for every schema', () => {
    fc.assert(fc.property(mutated(validMessages.map((message) => encodeJson(message))), decodeWithEvery), MANY_RUNS)
  })

  it('never lets a "__proto__" key reach the decoded object\'s prototype', () => {
    const decoded = decodeJson(new TextEncoder().encode('{"type":"pex-request","limit":5,"__proto__":{"polluted":true}}'), PeerExchangeRequest)
    expect(decoded).toEqual({ type: 'pex-request', limit: 5 })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
  })
})

describe('sealed gossip (sealerFor(...).open)', () => {
  const secret = newSecret()
  const sealer = sealerFor(secret, 'memory-gossip')
  const plaintext = fc.uint8Array({ maxLength: 512 })
  const open = (sealed: Uint8Array): Uint8Array | undefined => decodeOrRefuse(() => sealer.open(sealed))

  it('opens what it sealed, also from a view inside a larger buffer, with a fresh nonce each time', () => {
    fc.assert(fc.property(plaintext, (data) => {
      const sealed = sealer.seal(data)
      expect(sealed.byteLength).toBe(data.byteLength + 28)
      expect(Buffer.from(sealer.open(embedded(sealed))).equals(Buffer.from(data))).toBe(true)
      expect(Buffer.from(sealer.seal(data)).equals(Buffer.from(sealed))).toBe(false)
    }), RUNS)
  })

  it('random bytes never open: always a ProtocolError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1_024 }), (data) => {
      expect(open(data)).toBeUndefined()
    }), MANY_RUNS)
  })

  it('any change to a sealed payload is refused with a ProtocolError', () => {
    const tampered = fc.tuple(plaintext.map((data) => sealer.seal(data))).chain(([sealed]) =>
      fc.tuple(fc.constant(sealed), mutated(fc.constant(sealed))))
    fc.assert(fc.property(tampered, ([sealed, changed]) => {
      const opened = open(changed)
      if (Buffer.from(changed).equals(Buffer.from(sealed))) expect(opened).toBeDefined()
      else expect(opened).toBeUndefined()
    }), MANY_RUNS)
  })

  it('a payload sealed under another secret or for another purpose is refused', () => {
    fc.assert(fc.property(plaintext, (data) => {
      expect(open(sealerFor(newSecret(), 'memory-gossip').seal(data))).toBeUndefined()
      expect(open(sealerFor(secret, 'other-purpose').seal(data))).toBeUndefined()
    }), RUNS)
  })
})
