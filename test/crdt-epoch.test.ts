import { describe, expect, it } from 'vitest'
import type { MemoryStore } from '../crdt/index.ts'
import { decodeEpochRecord, encodeEpochRecord, EpochMismatchError } from '../crdt/epoch.ts'
import { useStoreFixture } from './helpers/crdt-fixtures.ts'

const author = '12D3KooWAuthor'
const NS = 'tasks'
const fixture = useStoreFixture()

function contents (store: MemoryStore, namespace = NS, now = 0): Array<[string, unknown]> {
  return store.list(namespace, { now }).map(entry => [entry.key, entry.value])
}

/** Every update `from` has that `to` lacks, applied to `to` as from a peer on `from`'s epoch. */
async function syncOneWay (from: MemoryStore, to: MemoryStore, origin = 'peer'): Promise<void> {
  for (const update of from.missingUpdates(NS, to.stateVector(NS))) await to.applyRemote(NS, update, origin, from.epochOf(NS))
}

/** What a peer on a newer epoch hands over: its record and whole state. */
async function adoptFrom (from: MemoryStore, to: MemoryStore, now = 0): Promise<boolean> {
  return to.adoptEpoch(NS, from.epochOf(NS), [...from.missingUpdates(NS, Uint8Array.of(0))], 'peer', now)
}

/** Creates, updates three times and finishes (deletes) `count` tasks: the churn that grows a doc. */
async function churn (store: MemoryStore, count: number, prefix = 't'): Promise<void> {
  for (let i = 0; i < count; i++) {
    const key = `${prefix}${i}`
    for (const state of ['submitted', 'assigned', 'running', 'done']) await store.put(NS, key, { state, i }, { author, now: 1 })
    await store.delete(NS, key)
  }
}

describe('epoch rollover', () => {
  it('keeps the live entries, drops the history, and keeps the epoch across a restart', async () => {
    const dir = await fixture.tempDir()
    const store = await fixture.open(dir, { rolloverAfterBytes: 0 })
    await churn(store, 2000)
    await store.put(NS, 'live', { state: 'running' }, { author, now: 1 })
    await store.put(NS, 'expiring', { state: 'done' }, { author, now: 1, ttlMs: 10 })
    const before = [...store.missingUpdates(NS, Uint8Array.of(0))].reduce((sum, part) => sum + part.byteLength, 0)

    const epoch = await store.rollOver(NS, 100)
    expect(epoch?.number).toBe(1)
    const after = [...store.missingUpdates(NS, Uint8Array.of(0))].reduce((sum, part) => sum + part.byteLength, 0)
    expect(after).toBeLessThan(before / 20)
    expect(contents(store)).toEqual([['live', { state: 'running' }]])

    await store.close()
    const reopened = await fixture.open(dir, { rolloverAfterBytes: 0 })
    expect(reopened.epochOf(NS)).toEqual(epoch)
    expect(contents(reopened)).toEqual([['live', { state: 'running' }]])
    await reopened.put(NS, 'later', 1, { author, now: 2 })
    await reopened.close()
    const again = await fixture.open(dir, { rolloverAfterBytes: 0 })
    expect(contents(again).map(([key]) => key)).toEqual(['later', 'live'])
  })

  it('rolls over by itself once history dominates the compacted state', async () => {
    const store = await fixture.open(undefined, { rolloverAfterBytes: 16 * 1024, compactAfterUpdates: 200 })
    await churn(store, 3000)
    await store.put(NS, 'live', 1, { author, now: 1 })
    expect(store.epochOf(NS).number).toBeGreaterThan(0)
    expect(contents(store)).toEqual([['live', 1]])
    const size = [...store.missingUpdates(NS, Uint8Array.of(0))].reduce((sum, part) => sum + part.byteLength, 0)
    // Bounded by the threshold plus what was written since the last compaction, not by the history.
    expect(size).toBeLessThan(2 * 16 * 1024)
  })

  it('keeps a namespace churned by writes that never pause within five times its live data, at the default thresholds', async () => {
    // A busy node's task churn: writes in groups (they share commits, so compaction is deferred as
    // in a burst), records expiring soon after, about 400 KiB live at any time, no pause ever.
    let now = 0
    const store = await fixture.open(undefined, { clock: () => now })
    const ratios: number[] = []
    for (let group = 0; group < 200; group++) {
      now = group * 10
      await Promise.all(Array.from({ length: 100 }, async (_, i) => {
        const id = `${group}-${i}`
        const options = { author, now, ttlMs: 50 }
        await store.put(NS, `task/${id}`, { prompt: `fix issue ${id}: the build fails on a clean checkout`, role: 'coder' }, options)
        await store.put(NS, `task/${id}/p`, { state: 'running', turns: 1, tokens: 1200 }, options)
        await store.put(NS, `task/${id}/p`, { state: 'running', turns: 4, tokens: 5300 }, options)
        await store.put(NS, `task/${id}/r`, { state: 'done', summary: `fixed ${id}: pinned the toolchain` }, options)
      }))
      await store.sweep(now)
      if (group % 10 === 9) {
        const docBytes = [...store.missingUpdates(NS, Uint8Array.of(0))].reduce((sum, part) => sum + part.byteLength, 0)
        const live = store.namespaces().find((info) => info.name === NS)?.bytes ?? 0
        ratios.push(docBytes / live)
      }
    }
    expect(store.epochOf(NS).number).toBeGreaterThanOrEqual(1)
    expect(Math.max(...ratios)).toBeLessThanOrEqual(5)
  })

  it('gives replicas that roll over the same live entries the same epoch', async () => {
    const a = await fixture.open(undefined, { rolloverAfterBytes: 0 })
    const b = await fixture.open(undefined, { rolloverAfterBytes: 0 })
    await churn(a, 50)
    await a.put(NS, 'k', 1, { author, now: 1 })
    await syncOneWay(a, b)
    const [epochA, epochB] = [await a.rollOver(NS, 5), await b.rollOver(NS, 5)]
    expect(epochA).toEqual(epochB)
    // Same epoch: updates flow as before.
    await a.put(NS, 'k2', 2, { author, now: 6 })
    await syncOneWay(a, b)
    expect(contents(b)).toEqual(contents(a))
  })

  it('refuses an update of another epoch with the reason, and adopting the newer epoch carries late writes over', async () => {
    const a = await fixture.open(undefined, { rolloverAfterBytes: 0 })
    const b = await fixture.open(undefined, { rolloverAfterBytes: 0 })
    await churn(a, 20)
    await a.put(NS, 'kept', 'seen by the rollover', { author, now: 1 })
    await a.put(NS, 'gone', 'deleted before the rollover', { author, now: 1 })
    await syncOneWay(a, b)
    await a.delete(NS, 'gone')
    await syncOneWay(a, b)
    // B keeps writing on epoch 0 while A rolls over: a late write, and a late overwrite of a seeded key.
    await a.rollOver(NS, 2)
    await b.put(NS, 'late', 'written on the old epoch', { author: 'b', now: 3 })
    await b.put(NS, 'kept', 'overwritten on the old epoch', { author: 'b', now: 4 })
    await a.put(NS, 'new', 'written on the new epoch', { author, now: 5 })

    const stale = [...b.missingUpdates(NS, a.stateVector(NS))]
    const refusal = await a.applyRemote(NS, stale[0] as Uint8Array, 'b', b.epochOf(NS)).catch((err: unknown) => err)
    expect(refusal).toBeInstanceOf(EpochMismatchError)
    expect((refusal as Error).message).toMatch(/is at epoch 1 .*refused an update of epoch 0.*carries its live writes over/)

    expect(await adoptFrom(a, b, 6)).toBe(true)
    expect(b.epochOf(NS)).toEqual(a.epochOf(NS))
    expect(await adoptFrom(a, b, 6)).toBe(false)
    // The carried writes reach A as ordinary updates of the new epoch.
    await syncOneWay(b, a)
    const expected = [
      ['kept', 'overwritten on the old epoch'],
      ['late', 'written on the old epoch'],
      ['new', 'written on the new epoch']
    ]
    expect(contents(a)).toEqual(expected)
    expect(contents(b)).toEqual(expected)
  })

  it('converges replicas that rolled over concurrently on the greater epoch', async () => {
    const a = await fixture.open(undefined, { rolloverAfterBytes: 0 })
    const b = await fixture.open(undefined, { rolloverAfterBytes: 0 })
    await a.put(NS, 'shared', 0, { author, now: 1 })
    await syncOneWay(a, b)
    await a.put(NS, 'only-a', 'a', { author: 'a', now: 2 })
    await b.put(NS, 'only-b', 'b', { author: 'b', now: 2 })
    await b.put(NS, 'shared', 'b wins', { author: 'b', now: 3 })
    await a.rollOver(NS, 4)
    await b.rollOver(NS, 4)
    expect(a.epochOf(NS)).not.toEqual(b.epochOf(NS))
    const [winner, loser] = a.epochOf(NS).id > b.epochOf(NS).id ? [a, b] : [b, a]
    expect(await adoptFrom(loser, winner)).toBe(false)
    expect(await adoptFrom(winner, loser)).toBe(true)
    await syncOneWay(loser, winner)
    const expected = [['only-a', 'a'], ['only-b', 'b'], ['shared', 'b wins']]
    expect(contents(a)).toEqual(expected)
    expect(contents(b)).toEqual(expected)
  })

  it('refuses a malformed epoch record', () => {
    const record = encodeEpochRecord({ number: 2, id: 'ab', base: { number: 1, id: 'cd' }, cut: Uint8Array.of(0) })
    expect(decodeEpochRecord(record)).toMatchObject({ number: 2, id: 'ab', base: { number: 1, id: 'cd' } })
    expect(() => decodeEpochRecord(record.subarray(0, record.byteLength - 1))).toThrow(/malformed epoch record/)
    expect(() => decodeEpochRecord(encodeEpochRecord({ number: 2, id: 'ab', base: { number: 3, id: 'x' }, cut: Uint8Array.of(0) }))).toThrow(/older base/)
  })
})
