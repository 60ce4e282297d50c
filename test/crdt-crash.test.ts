import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { describe, expect, it } from 'vitest'
import type { MemoryStoreOptions } from '../crdt/index.ts'
import { minimumChunkBytes } from '../crdt/index.ts'
import { useStoreFixture } from './helpers/crdt-fixtures.ts'

const fixture = useStoreFixture()
/** Frequent compaction, so kills land during compaction batches too. */
const OPTIONS: MemoryStoreOptions = { compactAfterUpdates: 7, chunkBytes: minimumChunkBytes(2048), defaultPolicy: { maxValueBytes: 2048 } }

/**
 * Child process: writes bursts of entries (and a deletion of an earlier one) forever. Prints
 * "p <n>" once the put of k<n> is acknowledged, "i <n>" when the deletion of k<n> is issued and
 * "d <n>" once it is acknowledged (stdout to a pipe is synchronous, so nothing printed is lost).
 */
const WRITER = `
const [storeUrl, dir, options, first] = process.argv.slice(1)
const { MemoryStore } = await import(storeUrl)
const store = await MemoryStore.open(dir, JSON.parse(options))
for (let n = Number(first); ; n += 5) {
  const burst = [0, 1, 2, 3, 4].map(offset => n + offset)
  const puts = burst.map(i => store.put('crash', 'k' + i, 'v'.repeat(i % 1500), { author: 'writer', now: i })
    .then(() => process.stdout.write('p ' + i + '\\n')))
  process.stdout.write('i ' + (n - 3) + '\\n')
  const deletion = store.delete('crash', 'k' + (n - 3)).then(() => process.stdout.write('d ' + (n - 3) + '\\n'))
  await Promise.all([...puts, deletion])
}
`

/** Runs the writer until it has acknowledged `acks` operations, then kills it with SIGKILL. */
async function writeThenKill (dir: string, first: number, acks: number): Promise<Record<'p' | 'i' | 'd', Set<number>>> {
  const storeUrl = new URL('../crdt/index.ts', import.meta.url).href
  const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER, storeUrl, dir, JSON.stringify(OPTIONS), String(first)], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = new Promise(resolve => child.once('exit', resolve))
  const seen = { p: new Set<number>(), i: new Set<number>(), d: new Set<number>() }
  for await (const line of createInterface({ input: child.stdout })) {
    const [kind, n] = line.split(' ') as ['p' | 'i' | 'd', string]
    seen[kind].add(Number(n))
    if (seen.p.size + seen.d.size >= acks) child.kill('SIGKILL')
  }
  await exited
  return seen
}

describe('crash safety', () => {
  it('keeps every acknowledged write after kill -9, across compactions', async () => {
    const dir = await fixture.tempDir()
    const acknowledged = new Map<string, 'present' | 'absent'>()
    for (const [round, acks] of [60, 150, 97].entries()) {
      const seen = await writeThenKill(dir, round * 100_000, acks)
      for (const n of seen.p) {
        // A deletion issued but not acknowledged may or may not have reached the disk.
        if (!seen.i.has(n)) acknowledged.set(`k${n}`, 'present')
        else if (seen.d.has(n)) acknowledged.set(`k${n}`, 'absent')
      }

      const store = await fixture.open(dir, OPTIONS)
      for (const [key, expected] of acknowledged) {
        expect({ key, state: store.get('crash', key, 0) === undefined ? 'absent' : 'present' }).toEqual({ key, state: expected })
      }
      await store.close()
    }
    expect(acknowledged.size).toBeGreaterThan(200)
  })
})
