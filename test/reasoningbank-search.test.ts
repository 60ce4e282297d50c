import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ClusteredSpace, seededGaussian } from '../bench/lib/clustered-vectors.ts'
import { exactSearch, exactSearchNamed } from '../src/reasoningbank/exact-search.ts'
import { HnswIndex } from '../src/reasoningbank/hnsw-index.ts'
import { buildShardedIndex } from '../src/reasoningbank/hnsw-shard-build.ts'
import { Int8Vectors } from '../src/reasoningbank/int8-vectors.ts'
import type { NamedVector } from '../src/reasoningbank/hnsw-shard-build.ts'
import { loadQuantizedAddon } from '../src/reasoningbank/quantized-addon.ts'
import { QuantizedHnswIndex } from '../src/reasoningbank/quantized-hnsw-index.ts'
import { ShardedHnswIndex, shardOf } from '../src/reasoningbank/sharded-hnsw-index.ts'
import { TopK } from '../src/reasoningbank/top-k.ts'

const dirs: string[] = []
async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'peerflow-rb-search-'))
  dirs.push(dir)
  return dir
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
})

function row (matrix: Float32Array, dimensions: number, i: number): Float32Array {
  return matrix.subarray(i * dimensions, (i + 1) * dimensions)
}

function indexOf (matrix: Float32Array, dimensions: number): HnswIndex {
  const index = HnswIndex.create({ dimensions, embedder: 'test' })
  for (let i = 0; i < matrix.length / dimensions; i++) index.upsert(String(i), row(matrix, dimensions, i))
  return index
}

describe('TopK', () => {
  it('keeps the k best of a stream, best first, like a full sort', () => {
    const gaussian = seededGaussian(7)
    const scores = Array.from({ length: 500 }, () => gaussian())
    const top = new TopK(10)
    scores.forEach((score, id) => { top.push(id, score) })
    const expected = scores.map((score, id) => ({ id, score })).sort((a, b) => b.score - a.score).slice(0, 10)
    expect(top.sorted()).toEqual(expected)
  })

  it('handles k larger than the input and k = 0', () => {
    const top = new TopK(5)
    top.push(1, 0.5)
    top.push(2, 0.9)
    expect(top.sorted().map((item) => item.id)).toEqual([2, 1])
    const none = new TopK(0)
    none.push(1, 1)
    expect(none.sorted()).toEqual([])
  })
})

describe('exactSearch', () => {
  it('ranks rows by cosine and applies the filter', () => {
    const space = new ClusteredSpace({ dimensions: 16, clusters: 4, spread: 1, seed: 3 })
    const data = space.sample(200, 4)
    const query = row(space.sample(1, 5), 16, 0)
    const all = Array.from({ length: 200 }, (_, i) => ({ row: i, similarity: row(data, 16, i).reduce((sum, value, j) => sum + value * (query[j] as number), 0) }))
      .sort((a, b) => b.similarity - a.similarity)
    const found = exactSearch(data, 16, query, 5)
    expect(found.map((match) => match.row)).toEqual(all.slice(0, 5).map((match) => match.row))
    found.forEach((match, i) => { expect(match.similarity).toBeCloseTo(all[i]?.similarity as number, 5) })
    expect(exactSearch(data, 16, query, 5, (r) => r % 2 === 0).every((match) => match.row % 2 === 0)).toBe(true)
  })

  it('rejects a query of the wrong size', () => {
    expect(() => exactSearch(new Float32Array(32), 16, new Float32Array(8), 1)).toThrow(/8 dimensions/)
  })
})

describe('HnswIndex', () => {
  it('matches exact search on a small set', () => {
    const space = new ClusteredSpace({ dimensions: 32, clusters: 5, spread: 1, seed: 11 })
    const data = space.sample(300, 12)
    const queries = space.sample(20, 13)
    const index = indexOf(data, 32)
    for (let q = 0; q < 20; q++) {
      const query = row(queries, 32, q)
      const exact = exactSearch(data, 32, query, 10)
      const approximate = index.search(query, 10)
      expect(approximate.map((match) => match.name)).toEqual(exact.map((match) => String(match.row)))
      approximate.forEach((match, i) => { expect(match.similarity).toBeCloseTo(exact[i]?.similarity as number, 4) })
    }
  })

  it('has recall@10 >= 0.95 against exact search on 4000 clustered 128-d vectors', () => {
    const dimensions = 128
    const space = new ClusteredSpace({ dimensions, clusters: 40, spread: 1, seed: 21 })
    const data = space.sample(4000, 22)
    const queries = space.sample(100, 23)
    const index = indexOf(data, dimensions)
    let hits = 0
    for (let q = 0; q < 100; q++) {
      const query = row(queries, dimensions, q)
      const truth = new Set(exactSearch(data, dimensions, query, 10).map((match) => String(match.row)))
      hits += index.search(query, 10).filter((match) => truth.has(match.name)).length
    }
    expect(hits / 1000).toBeGreaterThanOrEqual(0.95)
  })

  it('updates, removes and filters by name, growing past its initial capacity', () => {
    const space = new ClusteredSpace({ dimensions: 8, clusters: 3, spread: 0.5, seed: 31 })
    const data = space.sample(200, 32)
    const index = indexOf(data, 8)
    expect(index.size).toBe(200)
    expect(index.capacity).toBeGreaterThanOrEqual(200)

    const target = row(data, 8, 150)
    expect(index.upsert('0', target)).toBe(true)
    expect(index.upsert('0', target)).toBe(false)
    expect(index.search(target, 2).map((match) => match.name).sort()).toEqual(['0', '150'])
    expect(index.size).toBe(200)

    expect(index.remove('150')).toBe(true)
    expect(index.remove('150')).toBe(false)
    expect(index.search(target, 1)[0]?.name).toBe('0')
    expect(index.search(target, 5, (name) => name !== '0').map((match) => match.name)).not.toContain('0')
    expect(index.size).toBe(199)
    expect(index.search(target, 1000)).toHaveLength(199)
  })

  it('rejects vectors of the wrong size with a clear message', () => {
    const index = HnswIndex.create({ dimensions: 4, embedder: 'test' })
    expect(() => index.upsert('a', [1, 0, 0])).toThrow(/3 dimensions, the index 4/)
    expect(() => index.search([1, 0], 1)).toThrow(/query vector has 2 dimensions/)
    expect(index.search([1, 0, 0, 0], 3)).toEqual([])
  })

  it('answers the same after save and load, and keeps its label map and deletions', async () => {
    const dir = await tempDir()
    const space = new ClusteredSpace({ dimensions: 24, clusters: 6, spread: 1, seed: 41 })
    const data = space.sample(500, 42)
    const queries = space.sample(10, 43)
    const index = indexOf(data, 24)
    index.remove('7')
    index.upsert('8', row(data, 24, 9))
    await index.save(dir)

    const loaded = await HnswIndex.load(dir)
    if (!loaded.ok) throw new Error(loaded.reason)
    expect(loaded.fingerprint).toBe(index.fingerprint())
    expect(loaded.index.embedder).toBe('test')
    expect(loaded.index.size).toBe(499)
    for (let q = 0; q < 10; q++) {
      expect(loaded.index.search(row(queries, 24, q), 10)).toEqual(index.search(row(queries, 24, q), 10))
    }
    expect(loaded.index.upsert('new', row(data, 24, 0))).toBe(true)
    expect(loaded.index.size).toBe(500)
  })

  it('reports a missing or torn saved index instead of throwing', async () => {
    const dir = await tempDir()
    expect(await HnswIndex.load(dir)).toEqual({ ok: false, reason: 'no saved index' })
    const index = HnswIndex.create({ dimensions: 4, embedder: 'test' })
    index.upsert('a', [1, 0, 0, 0])
    await index.save(dir)
    await writeFile(join(dir, 'patterns.hnsw'), 'truncated')
    const loaded = await HnswIndex.load(dir)
    expect(loaded.ok).toBe(false)
    if (!loaded.ok) expect(loaded.reason).toMatch(/index file has 9 bytes/)
  })
})

describe('an index saved empty', () => {
  it('accepts vectors after it is loaded again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peerflow-hnsw-empty-'))
    try {
      const empty = HnswIndex.create({ dimensions: 4, embedder: 'test' })
      await empty.save(dir)
      const loaded = await HnswIndex.load(dir)
      if (!loaded.ok) throw new Error(loaded.reason)
      expect(loaded.index.upsert('a', [1, 0, 0, 0])).toBe(true)
      expect(loaded.index.search([1, 0, 0, 0], 1)[0]?.name).toBe('a')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('sharded index built in worker threads', () => {
  const dimensions = 64
  const space = new ClusteredSpace({ dimensions, clusters: 40, spread: 1, seed: 11 })
  const data = space.sample(3000, 12)
  const entries = Array.from({ length: 3000 }, (_, i) => ({ name: `v${i}`, vector: row(data, dimensions, i) }))

  it('finds what exact search finds across its shards, each name in the shard its hash picks', async () => {
    const progress: number[] = []
    const cpu: number[] = []
    const index = await buildShardedIndex(entries, { dimensions, embedder: 'test', shards: 3, onProgress: ({ done }) => progress.push(done), onShardBuilt: ({ cpuSeconds }) => cpu.push(cpuSeconds) })
    expect(index.shardCount).toBe(3)
    expect(index.size).toBe(3000)
    expect(progress.at(-1)).toBe(3000)
    expect(cpu).toHaveLength(3)
    expect(cpu.every((seconds) => seconds > 0)).toBe(true)
    const queries = space.sample(50, 13)
    let hits = 0
    for (let q = 0; q < 50; q++) {
      const query = row(queries, dimensions, q)
      const truth = new Set(exactSearch(data, dimensions, query, 10).map((match) => `v${match.row}`))
      const found = index.search(query, 10)
      expect(found).toHaveLength(10)
      expect(found.map((match) => match.similarity)).toEqual([...found.map((match) => match.similarity)].sort((a, b) => b - a))
      hits += found.filter((match) => truth.has(match.name)).length
    }
    expect(hits / 500).toBeGreaterThanOrEqual(0.95)

    // Later upserts land in the same shard as the build put the name: an update replaces, not duplicates.
    const moved = row(queries, dimensions, 0)
    expect(index.upsert('v7', moved)).toBe(true)
    expect(index.size).toBe(3000)
    expect(index.search(moved, 1)[0]).toMatchObject({ name: 'v7' })
    expect(index.remove('v7')).toBe(true)
    expect(index.has('v7')).toBe(false)
    expect(shardOf('v7', 3)).toBe(shardOf('v7', 3))
  })

  it('answers the same after save and load, and reports a torn save', async () => {
    const index = await buildShardedIndex(entries.slice(0, 2000), { dimensions, embedder: 'test', shards: 2 })
    const dir = await tempDir()
    await index.save(dir)
    const loaded = await ShardedHnswIndex.load(dir)
    if (!loaded.ok) throw new Error(loaded.reason)
    expect(loaded.fingerprint).toBe(index.fingerprint())
    const query = row(data, dimensions, 2500)
    expect(loaded.index.search(query, 5)).toEqual(index.search(query, 5))

    // One shard saved again after a change, the manifest not: the pair no longer belongs together.
    loaded.index.upsert('v2999', row(data, dimensions, 2999))
    await loaded.index.save(join(dir, 'other'))
    const changedShard = shardOf('v2999', 2)
    await rm(join(dir, `shard-${changedShard}`), { recursive: true })
    const { rename } = await import('node:fs/promises')
    await rename(join(dir, 'other', `shard-${changedShard}`), join(dir, `shard-${changedShard}`))
    expect(await ShardedHnswIndex.load(dir)).toMatchObject({ ok: false, reason: expect.stringMatching(/torn save/) })
  })

  it('stops its workers when aborted', async () => {
    const abort = new AbortController()
    const build = buildShardedIndex(entries, { dimensions, embedder: 'test', shards: 2, onProgress: ({ done }) => { if (done >= 1000) abort.abort(new Error('stop')) }, signal: abort.signal })
    await expect(build).rejects.toThrow('stop')
  })

  it('rejects a vector of the wrong size before starting any worker', async () => {
    await expect(buildShardedIndex([{ name: 'a', vector: [1, 2] }], { dimensions, embedder: 'test' })).rejects.toThrow(/'a' has 2 dimensions, the index 64/)
  })
})

describe('exact scan over named vectors', () => {
  it('ranks by cosine without needing unit vectors', () => {
    const found = exactSearchNamed([{ name: 'far', vector: [0, 5] }, { name: 'near', vector: [10, 1] }, { name: 'zero', vector: [0, 0] }], [1, 0], 2)
    expect(found.map((match) => match.name)).toEqual(['near', 'far'])
    expect(found[0]?.similarity).toBeCloseTo(10 / Math.sqrt(101), 6)
  })
})

describe('Int8Vectors', () => {
  it('keeps recall@10 >= 0.98 against the float32 exact scan at a quarter of the bytes', () => {
    const dimensions = 128
    const space = new ClusteredSpace({ dimensions, clusters: 50, spread: 2, seed: 21 })
    const data = space.sample(5000, 22)
    const store = new Int8Vectors(dimensions, 16)
    for (let i = 0; i < 5000; i++) expect(store.add(row(data, dimensions, i))).toBe(i)
    expect(store.size).toBe(5000)
    expect(store.bytesPerVector).toBe(132)
    const original = row(data, dimensions, 42)
    const restored = store.vector(42)
    const largest = Math.max(...Array.from(original, Math.abs))
    restored.forEach((value, i) => { expect(Math.abs(value - (original[i] as number))).toBeLessThanOrEqual(largest / 254 + 1e-7) })
    const queries = space.sample(40, 23)
    let hits = 0
    for (let q = 0; q < 40; q++) {
      const query = row(queries, dimensions, q)
      const truth = new Set(exactSearch(data, dimensions, query, 10).map((match) => match.row))
      hits += store.search(query, 10).filter((match) => truth.has(match.row)).length
    }
    expect(hits / 400).toBeGreaterThanOrEqual(0.98)
    expect(() => store.add([1, 2])).toThrow(/2 dimensions/)
  })
})

function named (matrix: Float32Array, dimensions: number): NamedVector[] {
  return Array.from({ length: matrix.length / dimensions }, (_, i) => ({ name: `v${i}`, vector: row(matrix, dimensions, i) }))
}

function recallAt10 (index: QuantizedHnswIndex, data: Float32Array, queries: Float32Array, dimensions: number): number {
  let hits = 0
  const count = queries.length / dimensions
  for (let q = 0; q < count; q++) {
    const truth = new Set(exactSearch(data, dimensions, row(queries, dimensions, q), 10).map((match) => `v${match.row}`))
    hits += index.search(row(queries, dimensions, q), 10).filter((match) => truth.has(match.name)).length
  }
  return hits / (count * 10)
}

describe('QuantizedHnswIndex (int8 graph, built on every core)', () => {
  it('is built by the install, with a SIMD kernel where the CPU has one', () => {
    const loaded = loadQuantizedAddon()
    if (!loaded.ok) throw new Error(loaded.reason)
    expect(['avx512-vnni', 'avx2', 'scalar']).toContain(loaded.addon.kernel)
  })

  it('is found from the build in dist/ as well, which npm start runs', async () => {
    const fromDist = await import(new URL('../dist/src/reasoningbank/quantized-addon.js', import.meta.url).href) as { loadQuantizedAddon: typeof loadQuantizedAddon }
    expect(fromDist.loadQuantizedAddon()).toMatchObject({ ok: true })
  })

  it('has recall@10 >= 0.95 against the float32 exact scan, walking int8 codes', async () => {
    const dimensions = 128
    const space = new ClusteredSpace({ dimensions, clusters: 40, spread: 1, seed: 11 })
    const data = space.sample(4000, 12)
    const queries = space.sample(100, 13)
    const index = await QuantizedHnswIndex.build(named(data, dimensions), { dimensions, embedder: 'test', threads: 2 })
    expect(index.size).toBe(4000)
    expect(recallAt10(index, data, queries, dimensions)).toBeGreaterThanOrEqual(0.95)
    // Links (2M + 1 ints), int8 codes and scale, float16 components, label.
    expect(index.bytesPerVector).toBe((2 * 16 + 1) * 4 + dimensions + 4 + 2 * dimensions + 8)
    // Similarities come from the float16 re-rank: within float16 rounding of the exact cosine.
    const query = row(queries, dimensions, 0)
    const exact = exactSearch(data, dimensions, query, 3)
    const found = index.search(query, 3)
    found.forEach((match, i) => { expect(match.similarity).toBeCloseTo(exact[i]?.similarity as number, 3) })
    const [best] = index.search(row(data, dimensions, 7), 1)
    expect(best?.name).toBe('v7')
    expect(best?.similarity).toBeCloseTo(1, 3)
  })

  it('builds off the event loop, reporting progress, and an abort stops it with the reason', async () => {
    const dimensions = 128
    const data = new ClusteredSpace({ dimensions, clusters: 100, spread: 2, seed: 21 }).sample(30_000, 22)
    const entries = named(data, dimensions)
    const progress: number[] = []
    let ticks = 0
    let longestGap = 0
    let last = performance.now()
    const timer = setInterval(() => {
      const now = performance.now()
      longestGap = Math.max(longestGap, now - last)
      last = now
      ticks++
    }, 5)
    const started = performance.now()
    const index = await QuantizedHnswIndex.build(entries, { dimensions, embedder: 'test', threads: 2, onProgress: ({ done }) => progress.push(done) })
    const elapsed = performance.now() - started
    clearInterval(timer)
    expect(index.size).toBe(30_000)
    expect(progress.at(-1)).toBe(30_000)
    // The timer kept running while the graph grew: no stall near the build's own length.
    expect(ticks).toBeGreaterThan(10)
    expect(longestGap).toBeLessThan(Math.max(250, elapsed / 4))

    const abort = new AbortController()
    const building = QuantizedHnswIndex.build(entries, { dimensions, embedder: 'test', signal: abort.signal, onProgress: ({ done }) => { if (done > 0) abort.abort(new Error('stop now')) } })
    setTimeout(() => { abort.abort(new Error('stop now')) }, 300)
    await expect(building).rejects.toThrow('stop now')
  }, 60_000)

  it('replaces, removes and reuses slots; searches honour the filter', async () => {
    const dimensions = 32
    const data = new ClusteredSpace({ dimensions, clusters: 8, spread: 1, seed: 31 }).sample(300, 32)
    const index = await QuantizedHnswIndex.build(named(data, dimensions), { dimensions, embedder: 'test' })
    const capacity = index.capacity
    expect(index.upsert('v1', row(data, dimensions, 1))).toBe(false)
    expect(index.upsert('v1', row(data, dimensions, 200))).toBe(true)
    expect(index.search(row(data, dimensions, 200), 2).map((match) => match.name).sort()).toEqual(['v1', 'v200'])
    expect(index.remove('v200')).toBe(true)
    expect(index.remove('v200')).toBe(false)
    expect(index.search(row(data, dimensions, 200), 1)[0]?.name).toBe('v1')
    for (let i = 0; i < 10; i++) index.upsert(`v${i}`, row(data, dimensions, 250 + i))
    expect(index.capacity).toBe(capacity)
    expect(index.size).toBe(299)
    const odd = index.search(row(data, dimensions, 5), 5, (name) => Number(name.slice(1)) % 2 === 1)
    expect(odd.length).toBe(5)
    expect(odd.every((match) => Number(match.name.slice(1)) % 2 === 1)).toBe(true)
    expect(() => index.search(new Float32Array(3), 1)).toThrow(/3 dimensions, the index 32/)
    // Growing past the allocated room doubles it.
    for (let i = 0; i < capacity; i++) index.upsert(`extra${i}`, row(data, dimensions, i % 300))
    expect(index.capacity).toBeGreaterThan(capacity)
  })

  it('saves and loads the same answers; a torn or corrupt save is reported, not thrown', async () => {
    const dimensions = 64
    const data = new ClusteredSpace({ dimensions, clusters: 10, spread: 1, seed: 41 }).sample(1000, 42)
    const index = await QuantizedHnswIndex.build(named(data, dimensions), { dimensions, embedder: 'test' })
    index.remove('v3')
    const dir = await tempDir()
    await index.save(dir)
    const loaded = await QuantizedHnswIndex.load(dir)
    if (!loaded.ok) throw new Error(loaded.reason)
    expect(loaded.fingerprint).toBe(index.fingerprint())
    expect(loaded.index.size).toBe(999)
    const query = row(data, dimensions, 10)
    expect(loaded.index.search(query, 10)).toEqual(index.search(query, 10))

    const file = join(dir, 'patterns-int8.hnsw')
    const bytes = await readFile(file)
    await writeFile(file, bytes.subarray(0, 100))
    expect(await QuantizedHnswIndex.load(dir)).toMatchObject({ ok: false, reason: expect.stringMatching(/index file has 100 bytes/) })
    // Same size, garbage inside: hnswlib's own checks refuse it.
    const garbage = Buffer.alloc(bytes.length, 0xff)
    await writeFile(file, garbage)
    expect(await QuantizedHnswIndex.load(dir)).toMatchObject({ ok: false, reason: expect.stringMatching(/unreadable index/) })
    expect(await QuantizedHnswIndex.load(await tempDir())).toEqual({ ok: false, reason: 'no saved index' })
  })
})
