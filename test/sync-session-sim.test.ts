import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { InMemoryKeyValueStore, MemoryStore, minimumChunkBytes } from '../crdt/index.ts'
import { ProtocolError } from '../protocols/framing.ts'
import { SyncSession, type SyncSessionAction } from '../protocols/sync-session.ts'
import { decodeSyncMessage, encodeSyncMessage, type SyncMessage } from '../protocols/sync.ts'
import { createPrng, type Prng } from './helpers/prng.ts'

const EMPTY_STATE_VECTOR = Y.encodeStateVector(new Y.Doc())

/** One side of a simulated exchange: its session, store, the frames it still has to produce, and applies waiting. */
interface Side {
  name: string
  store: MemoryStore
  session: SyncSession
  /** Frames the driver will send once `send-missing` runs, produced one per step like a stream writer. */
  toProduce: SyncMessage[]
  pendingApplies: Array<{ namespace: string, update: Uint8Array }>
  /** Frames on the wire towards the other side, in order (a stream never reorders). */
  wire: Uint8Array[]
  completed: string[] | undefined
  maxBacklogSeen: number
}

function ourVectors (store: MemoryStore): Map<string, Uint8Array> {
  return new Map(store.namespaces().map((info) => [info.name, store.stateVector(info.name)]))
}

function startSide (name: string, store: MemoryStore, initiator: boolean, maxBacklogBytes: number): Side {
  return {
    name,
    store,
    session: new SyncSession({ initiator, ours: ourVectors(store), maxBacklogBytes }),
    toProduce: [],
    pendingApplies: [],
    wire: [],
    completed: undefined,
    maxBacklogSeen: 0
  }
}

function perform (side: Side, actions: SyncSessionAction[]): void {
  for (const action of actions) {
    if (action.type === 'send') side.wire.push(encodeSyncMessage(action.message))
    else if (action.type === 'send-missing') {
      for (const namespace of side.store.namespaces().map((info) => info.name)) {
        for (const update of side.store.missingUpdates(namespace, action.theirStateVectors.get(namespace) ?? EMPTY_STATE_VECTOR)) {
          side.toProduce.push({ type: 'update', namespace, update })
        }
      }
      side.toProduce.push({ type: 'done' })
    } else if (action.type === 'apply') side.pendingApplies.push({ namespace: action.namespace, update: action.update })
    else if (action.type === 'complete') side.completed = action.namespaces
  }
}

function contents (store: MemoryStore): Record<string, unknown> {
  const all: Record<string, unknown> = {}
  for (const info of store.namespaces()) {
    for (const entry of store.list(info.name, { now: 0 })) all[`${info.name}/${entry.key}`] = entry.value
  }
  return all
}

async function randomWrites (prng: Prng, store: MemoryStore, author: string, namespaces: string[], count: number, clock: { now: number }): Promise<void> {
  for (let i = 0; i < count; i++) {
    const namespace = prng.pick(namespaces)
    const key = `k${prng.int(40)}`
    if (prng.next() < 0.15) await store.delete(namespace, key)
    else await store.put(namespace, key, { by: author, n: prng.int(1_000), pad: 'x'.repeat(prng.int(300)) }, { author, now: clock.now++ })
  }
}

type Outcome = 'complete' | 'cut' | 'failed'

/**
 * Runs one exchange with a random interleaving of deliveries, frame production and applies; with
 * probability `cutChance` per step the connection drops (both sessions abandoned, as the driver does).
 */
async function runExchange (prng: Prng, a: MemoryStore, b: MemoryStore, cutChance: number, maxBacklogBytes = 64 * 1024 * 1024): Promise<{ outcome: Outcome, sides: [Side, Side], error?: ProtocolError }> {
  const sides: [Side, Side] = [startSide('A', a, true, maxBacklogBytes), startSide('B', b, false, maxBacklogBytes)]
  try {
    for (const side of sides) perform(side, side.session.handle({ type: 'open' }))
    for (let step = 0; step < 100_000; step++) {
      if (sides.every((side) => side.completed !== undefined)) return { outcome: 'complete', sides }
      if (prng.next() < cutChance) return { outcome: 'cut', sides }
      const moves: Array<() => Promise<void>> = []
      for (const [index, side] of sides.entries()) {
        const other = sides[1 - index] as Side
        if (side.wire.length > 0) {
          moves.push(async () => {
            const frame = side.wire.shift() as Uint8Array
            perform(other, other.session.handle({ type: 'received', message: decodeSyncMessage(frame) }))
            other.maxBacklogSeen = Math.max(other.maxBacklogSeen, other.session.backlogBytes)
          })
        }
        if (side.toProduce.length > 0) {
          moves.push(async () => {
            const message = side.toProduce.shift() as SyncMessage
            side.wire.push(encodeSyncMessage(message))
            if (message.type === 'done') perform(side, side.session.handle({ type: 'sent-all' }))
          })
        }
        if (side.pendingApplies.length > 0) {
          moves.push(async () => {
            const { namespace, update } = side.pendingApplies.shift() as { namespace: string, update: Uint8Array }
            await side.store.applyRemote(namespace, update, other.name)
            perform(side, side.session.handle({ type: 'applied', bytes: update.byteLength }))
          })
        }
      }
      if (moves.length === 0) throw new Error(`stalled: A ${sides[0].session.phase}, B ${sides[1].session.phase}`)
      await prng.pick(moves)()
    }
    throw new Error('exchange did not finish in 100k steps')
  } catch (err) {
    if (err instanceof ProtocolError) return { outcome: 'failed', sides, error: err }
    throw err
  }
}

async function openReplica (): Promise<MemoryStore> {
  // Small chunks, so a catch-up crosses many frames.
  return MemoryStore.openOn(new InMemoryKeyValueStore(), { chunkBytes: minimumChunkBytes(1024), defaultPolicy: { maxValueBytes: 1024 } })
}

describe('catch-up sessions in a seeded network that cuts connections', () => {
  it.each(Array.from({ length: 40 }, (_, i) => 1_000 + i))('seed %i: replicas converge once an exchange completes, and no cut exchange claims completion', async (seed) => {
    const prng = createPrng(seed)
    const clock = { now: 1 }
    const [a, b] = [await openReplica(), await openReplica()]
    await randomWrites(prng, a, 'A', ['notes', 'tasks', 'only-a'], 30 + prng.int(60), clock)
    await randomWrites(prng, b, 'B', ['notes', 'tasks', 'only-b'], 30 + prng.int(60), clock)
    let completed = 0
    for (let round = 0; round < 200 && completed === 0; round++) {
      const { outcome, sides } = await runExchange(prng, a, b, 0.02)
      if (outcome === 'complete') {
        completed++
        const union = [...new Set([...a.namespaces(), ...b.namespaces()].map((info) => info.name))].sort()
        for (const side of sides) expect([...(side.completed ?? [])].sort()).toEqual(union)
      } else {
        expect(outcome).toBe('cut')
        // Whatever was applied stays; writes go on between attempts.
        for (const side of sides) expect(side.session.phase).not.toBe('complete')
        await randomWrites(prng, prng.next() < 0.5 ? a : b, 'C', ['notes', 'tasks'], prng.int(5), clock)
      }
    }
    expect(completed).toBe(1)
    expect(contents(a)).toEqual(contents(b))
    await a.close()
    await b.close()
  })

  it('bounds the receive backlog: a receiver that falls behind fails the exchange instead of buffering, and a later one converges', async () => {
    const prng = createPrng(7)
    const clock = { now: 1 }
    const [a, b] = [await openReplica(), await openReplica()]
    await randomWrites(prng, a, 'A', ['notes', 'tasks', 'only-a'], 300, clock)
    await randomWrites(prng, b, 'B', ['only-b'], 5, clock)
    const tight = 2_048
    const bounded = await runExchange(prng, a, b, 0, tight)
    for (const side of bounded.sides) expect(side.maxBacklogSeen).toBeLessThanOrEqual(tight)
    expect(bounded.outcome).toBe('failed')
    expect(bounded.error?.message).toMatch(/waiting to be applied/)
    const again = await runExchange(prng, a, b, 0)
    expect(again.outcome).toBe('complete')
    expect(contents(a)).toEqual(contents(b))
    await a.close()
    await b.close()
  })

  it('refuses protocol violations with a reason', () => {
    const ours = new Map([['notes', EMPTY_STATE_VECTOR]])
    const responder = new SyncSession({ initiator: false, ours })
    responder.handle({ type: 'open' })
    expect(() => responder.handle({ type: 'received', message: { type: 'done' } })).toThrow(/expected hello, got done/)
    expect(responder.phase).toBe('failed')

    const initiator = new SyncSession({ initiator: true, ours })
    expect(initiator.handle({ type: 'open' })).toEqual([{ type: 'send', message: { type: 'hello', stateVectors: ours } }])
    initiator.handle({ type: 'received', message: { type: 'hello', stateVectors: new Map() } })
    expect(() => initiator.handle({ type: 'received', message: { type: 'hello', stateVectors: new Map() } })).toThrow(/second hello/)

    const reported = new SyncSession({ initiator: true, ours })
    reported.handle({ type: 'open' })
    expect(() => reported.handle({ type: 'received', message: { type: 'error', message: 'disk full' } })).toThrow(/peer reported: disk full/)

    const early = new SyncSession({ initiator: true, ours })
    early.handle({ type: 'open' })
    expect(() => early.handle({ type: 'applied', bytes: 10 })).toThrow(/never handed out/)
  })
})
