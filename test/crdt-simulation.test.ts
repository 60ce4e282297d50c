import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_POLICY, LOCAL_ORIGIN, NamespaceDoc } from '../crdt/index.ts'
import type { MemoryStore, MemoryStoreOptions } from '../crdt/index.ts'
import { minimumChunkBytes } from '../crdt/index.ts'
import { useStoreFixture } from './helpers/crdt-fixtures.ts'
import { createPrng } from './helpers/prng.ts'
import type { Prng } from './helpers/prng.ts'

const fixture = useStoreFixture()
const NAMESPACES = ['sim', 'swarm-state']
/** Small chunks and frequent compaction so catch-up splitting and snapshots are exercised. */
const STORE_OPTIONS: MemoryStoreOptions = {
  chunkBytes: minimumChunkBytes(2048),
  compactAfterUpdates: 15,
  defaultPolicy: { maxValueBytes: 2048 }
}

interface Replica {
  readonly id: string
  readonly dir: string
  store: MemoryStore
  /** A disconnected replica receives nothing (its messages are lost); it still writes and gossips. */
  connected: boolean
}

interface Message {
  readonly to: Replica
  readonly from: string
  readonly namespace: string
  readonly update: Uint8Array
}

/** Replays on `to` everything `from` has that `to` lacks, the way catch-up does over the network. */
async function catchUp (from: Replica, to: Replica, namespace: string): Promise<void> {
  for (const update of from.store.missingUpdates(namespace, to.store.stateVector(namespace))) {
    await to.store.applyRemote(namespace, update, from.id)
  }
}

function snapshotOf (replica: Replica): string {
  return JSON.stringify(NAMESPACES.map(namespace => replica.store.list(namespace, { now: 0 })))
}

class Simulation {
  readonly replicas: Replica[] = []
  readonly #prng: Prng
  readonly #inFlight: Message[] = []
  #now = 1_000

  constructor (seed: number) {
    this.#prng = createPrng(seed)
  }

  async start (replicaCount: number): Promise<void> {
    for (let i = 0; i < replicaCount; i++) this.replicas.push(await this.join())
  }

  /** A new, empty replica; it gossips but only `start`'s replicas receive gossip. */
  async join (): Promise<Replica> {
    const dir = await fixture.tempDir()
    const replica: Replica = { id: `peer-${this.replicas.length}`, dir, store: await fixture.open(dir, STORE_OPTIONS), connected: true }
    this.#gossipFrom(replica)
    return replica
  }

  pickReplica (): Replica {
    return this.#prng.pick(this.replicas)
  }

  /** Local updates are broadcast to every other replica, as the network layer would. */
  #gossipFrom (replica: Replica): void {
    replica.store.onUpdate((namespace, update, origin) => {
      if (origin !== LOCAL_ORIGIN) return
      for (const to of this.replicas) {
        if (to !== replica) this.#inFlight.push({ to, from: replica.id, namespace, update })
      }
    })
  }

  async step (): Promise<void> {
    const prng = this.#prng
    const replica = prng.pick(this.replicas)
    const namespace = prng.pick(NAMESPACES)
    const key = `key-${prng.int(60)}`
    const roll = prng.next()
    if (roll < 0.3) {
      const value = prng.next() < 0.5 ? prng.int(1000) : { text: 'x'.repeat(prng.int(1900)), at: this.#now }
      const ttlMs = prng.next() < 0.3 ? 1 + prng.int(5_000) : undefined
      await replica.store.put(namespace, key, value, { author: replica.id, now: this.#now, ttlMs })
    } else if (roll < 0.4) {
      await replica.store.delete(namespace, key)
    } else if (roll < 0.75) {
      await this.#deliverOne()
    } else if (roll < 0.8) {
      replica.connected = !replica.connected
    } else if (roll < 0.84) {
      await this.#restart(replica)
    } else if (roll < 0.88) {
      await replica.store.sweep(this.#now)
    } else if (roll < 0.92) {
      const other = prng.pick(this.replicas)
      if (other !== replica && replica.connected) await catchUp(other, replica, namespace)
    } else {
      this.#now += prng.int(3_000)
    }
  }

  /** Takes a random message (reordering), then drops it, or delivers it and maybe keeps a duplicate. */
  async #deliverOne (): Promise<void> {
    if (this.#inFlight.length === 0) return
    const prng = this.#prng
    const [message] = this.#inFlight.splice(prng.int(this.#inFlight.length), 1)
    if (prng.next() < 0.15 || !message.to.connected) return
    if (prng.next() < 0.1) this.#inFlight.push(message)
    await message.to.store.applyRemote(message.namespace, message.update, message.from)
  }

  async #restart (replica: Replica): Promise<void> {
    await replica.store.close()
    replica.store = await fixture.open(replica.dir, STORE_OPTIONS)
    this.#gossipFrom(replica)
  }

  /** Reconnects everyone and runs one round of pairwise catch-up. */
  async heal (): Promise<void> {
    for (const replica of this.replicas) replica.connected = true
    for (const from of this.replicas) {
      for (const to of this.replicas) {
        if (from === to) continue
        for (const namespace of NAMESPACES) await catchUp(from, to, namespace)
      }
    }
  }

  async restartAll (): Promise<void> {
    for (const replica of this.replicas) await this.#restart(replica)
  }
}

describe('seeded replication simulation', () => {
  for (const seed of [1, 2, 3, 42, 1337]) {
    it(`converges after drops, reordering, duplicates, disconnects and restarts (seed ${seed})`, async () => {
      const simulation = new Simulation(seed)
      await simulation.start(4 + (seed % 2))
      for (let i = 0; i < 600; i++) await simulation.step()
      // The faults must have left the replicas apart, or healing proves nothing.
      expect(new Set(simulation.replicas.map(snapshotOf)).size).toBeGreaterThan(1)
      await simulation.heal()

      const [first, ...others] = simulation.replicas.map(snapshotOf)
      expect(JSON.parse(first).flat().length).toBeGreaterThan(0)
      for (const other of others) expect(other).toBe(first)

      await simulation.restartAll()
      for (const replica of simulation.replicas) expect(snapshotOf(replica)).toBe(first)

      // A newcomer catches up on whole namespaces, which takes several chunks.
      const newcomer = await simulation.join()
      for (const namespace of NAMESPACES) await catchUp(simulation.pickReplica(), newcomer, namespace)
      expect(snapshotOf(newcomer)).toBe(first)
    })
  }
})

describe('convergence', () => {
  it('two stores writing one key concurrently agree on one value', async () => {
    const replicas: Replica[] = []
    for (const id of ['left', 'right']) {
      const dir = await fixture.tempDir()
      replicas.push({ id, dir, store: await fixture.open(dir), connected: true })
    }
    const [left, right] = replicas
    await left.store.put('notes', 'topic', 'left wins?', { author: left.id, now: 1 })
    await right.store.put('notes', 'topic', 'right wins?', { author: right.id, now: 1 })
    await catchUp(left, right, 'notes')
    await catchUp(right, left, 'notes')
    const chosen = left.store.get('notes', 'topic', 1)
    expect(right.store.get('notes', 'topic', 1)).toEqual(chosen)
    expect(['left wins?', 'right wins?']).toContain(chosen?.value)
  })

  type Operation =
    | { kind: 'put', replica: number, key: number, value: number }
    | { kind: 'delete', replica: number, key: number }
    | { kind: 'sync', replica: number, from: number }

  const REPLICAS = 3
  const operation: fc.Arbitrary<Operation> = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), replica: fc.nat(REPLICAS - 1), key: fc.nat(4), value: fc.integer() }),
    fc.record({ kind: fc.constant('delete' as const), replica: fc.nat(REPLICAS - 1), key: fc.nat(4) }),
    fc.record({ kind: fc.constant('sync' as const), replica: fc.nat(REPLICAS - 1), from: fc.nat(REPLICAS - 1) })
  )

  it('replicas receiving the same updates in any order end identical (property)', () => {
    fc.assert(fc.property(
      fc.array(operation, { maxLength: 40 }),
      fc.array(fc.array(fc.double({ noNaN: true }), { minLength: 40, maxLength: 40 }), { minLength: 3, maxLength: 3 }),
      (operations, orders) => {
        const writers = Array.from({ length: REPLICAS }, () => new NamespaceDoc('prop', DEFAULT_POLICY))
        const updates: Uint8Array[] = []
        for (const writer of writers) writer.onUpdate((update, origin) => { if (origin === LOCAL_ORIGIN) updates.push(update) })
        operations.forEach((op, now) => {
          const writer = writers[op.replica]
          if (op.kind === 'put') writer.put(`k${op.key}`, op.value, { author: `w${op.replica}`, now })
          else if (op.kind === 'delete') writer.delete(`k${op.key}`)
          else writer.applyUpdate(writers[op.from].encodeStateAsUpdate(writer.stateVector()), 'peer')
        })

        const receivedInOrder = orders.map(order => {
          const receiver = new NamespaceDoc('prop', DEFAULT_POLICY)
          const shuffled = updates.map((update, i) => ({ update, rank: order[i] ?? i })).sort((a, b) => a.rank - b.rank)
          for (const { update } of shuffled) receiver.applyUpdate(update, 'peer')
          return JSON.stringify(receiver.list({ now: 0 }))
        })
        const reference = new NamespaceDoc('prop', DEFAULT_POLICY)
        for (const update of updates) reference.applyUpdate(update, 'peer')
        for (const received of receivedInOrder) expect(received).toBe(JSON.stringify(reference.list({ now: 0 })))
      }
    ), { numRuns: 150, seed: 20240601 })
  })
})
