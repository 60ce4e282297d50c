/**
 * npm run bench:vectors — the ReasoningBank's vector search on 100k clustered 384-d vectors, in one run:
 * the exact scan (the baseline), the single float32 HNSW index built on one thread (M=16,
 * efConstruction=100), the float32 shards built in worker threads (one per core, searched together;
 * also searched inside their workers), and the int8 graph the bank builds where its addon is built (one
 * index that every core inserts into at once), each with an ef sweep for the recall/latency trade-off. The load average is recorded with
 * each build, since the machine is shared. Two spaces: loose clusters (cosine ≈ 0.2 within a cluster, the
 * main figures) and tighter ones (≈ 0.5), because HNSW's cost depends on how structured the data is.
 * Then the end-to-end query latency of a ReasoningBank with the Universal Sentence Encoder at 10k
 * patterns. BENCH_QUICK=1 (or --quick) runs 10k vectors and 1k patterns.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { DEFAULT_HNSW_PARAMS, HnswIndex, type IndexMatch } from '../src/reasoningbank/hnsw-index.ts'
import { buildShardedIndex } from '../src/reasoningbank/hnsw-shard-build.ts'
import { exactSearch } from '../src/reasoningbank/exact-search.ts'
import { Int8Vectors } from '../src/reasoningbank/int8-vectors.ts'
import { DEFAULT_QUANTIZED_PARAMS, QuantizedHnswIndex } from '../src/reasoningbank/quantized-hnsw-index.ts'
import type { ShardedHnswIndex } from '../src/reasoningbank/sharded-hnsw-index.ts'
import { InMemoryPatternStore } from '../src/reasoningbank/in-memory-pattern-store.ts'
import { ReasoningBank } from '../src/reasoningbank/reasoning-bank.ts'
import { UseEmbedder } from '../src/reasoningbank/use-embedder.ts'
import { ClusteredSpace } from './lib/clustered-vectors.ts'
import { patternTexts, queryTexts } from './lib/pattern-texts.ts'
import { median, percentile, printRows, writeResults, type BenchRow } from './lib/report.ts'
import type { ShardSearchReply, ShardSearchRequest } from './lib/shard-search-worker.ts'

const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick')
const VECTORS = quick ? 10_000 : 100_000
const DIMENSIONS = 384
const CLUSTERS = VECTORS / 100
/**
 * Noise norm per point: points of one cluster have cosine ≈ 1 / (1 + spread²): 0.2 for spread 2, like
 * loosely related sentences, 0.5 for spread 1.
 */
const SPREADS = [2, 1]
const K = 10
/** Exact scans are slow at full size, so recall and the exact latencies use fewer queries than HNSW latency. */
const EXACT_QUERIES = quick ? 100 : 200
const HNSW_QUERIES = quick ? 1000 : 2000
/** hnswlib searches with max(ef, k), so the sweep starts above k. */
const EF_SWEEP = [16, 32, 48, 64, 80, 100, 128]
/** The single index as the bank built it before sharding: the baseline of the build. */
const SINGLE_PARAMS = { m: 16, efConstruction: 100, ef: 100 }
const SHARDS = availableParallelism()
const PATTERNS = quick ? 1_000 : 10_000
const BANK_QUERIES = quick ? 100 : 300

const GOALS = { recall: 0.98, p50Ms: 0.4, speedup: 150, bytesPerVector: 2048, buildSeconds: 30, endToEndP50Ms: 30 }

function log (line: string): void {
  process.stdout.write(`${line}\n`)
}

function row (i: number, matrix: Float32Array): Float32Array {
  return matrix.subarray(i * DIMENSIONS, (i + 1) * DIMENSIONS)
}

function loadAverage (): string {
  return loadavg().map((load) => load.toFixed(2)).join(' ')
}

function buildIndex (data: Float32Array): { index: HnswIndex, seconds: number, cpuSeconds: number } {
  const index = HnswIndex.create({ dimensions: DIMENSIONS, embedder: 'bench', params: SINGLE_PARAMS, initialCapacity: VECTORS })
  const started = performance.now()
  const cpuAtStart = process.threadCpuUsage()
  const step = VECTORS / 10
  for (let i = 0; i < VECTORS; i++) {
    index.upsert(String(i), row(i, data))
    if ((i + 1) % step === 0) log(`  built ${i + 1}/${VECTORS} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
  const cpu = process.threadCpuUsage(cpuAtStart)
  return { index, seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
}

async function sizeOnDisk (dir: string): Promise<number> {
  let bytes = 0
  for (const file of await readdir(dir)) bytes += (await stat(join(dir, file))).size
  return bytes
}

/** Bytes an index takes on disk: saved to a temporary directory, measured, removed. */
async function savedBytes (index: { save: (dir: string) => Promise<void> }, measure: (dir: string) => Promise<number> = sizeOnDisk): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'peerflow-bench-vectors-'))
  try {
    await index.save(dir)
    return await measure(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

interface ExactRun {
  /** Names of the true k nearest neighbours of each query. */
  truths: Array<Set<string>>
  exactMs: number[]
}

/**
 * Each method is timed in its own loop: interleaving them would let every exact scan flush the HNSW graph
 * out of the CPU caches, which measures cache misses rather than the search.
 */
function exactRun (data: Float32Array, queries: Float32Array): ExactRun {
  const run: ExactRun = { truths: [], exactMs: [] }
  for (let q = 0; q < EXACT_QUERIES; q++) {
    const started = performance.now()
    const truth = exactSearch(data, DIMENSIONS, row(q, queries), K)
    run.exactMs.push(performance.now() - started)
    run.truths.push(new Set(truth.map((match) => String(match.row))))
  }
  return run
}

/** What the sweep needs of the single and the sharded index alike. */
interface Searchable {
  ef: number
  search: (query: ArrayLike<number>, k: number) => IndexMatch[]
}

function recall (index: Searchable, queries: Float32Array, truths: Array<Set<string>>): number {
  let hits = 0
  truths.forEach((truth, q) => { hits += index.search(row(q, queries), K).filter((match) => truth.has(match.name)).length })
  return hits / (truths.length * K)
}

function hnswLatencies (index: Searchable, queries: Float32Array): number[] {
  const samples: number[] = []
  const available = queries.length / DIMENSIONS
  for (let q = 0; q < HNSW_QUERIES; q++) {
    const query = row(q % available, queries)
    const started = performance.now()
    index.search(query, K)
    samples.push(performance.now() - started)
  }
  return samples
}

interface SweepPoint { ef: number, recall: number, p50Ms: number, p99Ms: number, speedup: number }

function sweep (label: string, index: Searchable, queries: Float32Array, exact: ExactRun, exactP50: number): SweepPoint[] {
  const points: SweepPoint[] = []
  for (const ef of EF_SWEEP) {
    index.ef = ef
    const latencies = hnswLatencies(index, queries)
    const point = { ef, recall: recall(index, queries, exact.truths), p50Ms: median(latencies), p99Ms: percentile(latencies, 99), speedup: exactP50 / median(latencies) }
    points.push(point)
    log(`  ${label} ef=${ef}: recall@${K} ${point.recall.toFixed(4)}, p50 ${point.p50Ms.toFixed(3)} ms, p99 ${point.p99Ms.toFixed(3)} ms, ${point.speedup.toFixed(0)}x exact (load ${loadAverage()})`)
  }
  return points
}

/** Rows for one index at the ef it searches with, and at the smallest swept ef meeting the recall goal. */
function searchRows (label: string, points: SweepPoint[], ef: number): BenchRow[] {
  const at = points.find((point) => point.ef === ef)
  if (at === undefined) throw new Error(`the ef sweep must include ef=${ef}`)
  const rows: BenchRow[] = [
    { metric: `${label} recall@${K} (ef=${ef})`, value: at.recall, unit: '', goal: `>= ${GOALS.recall}`, met: at.recall >= GOALS.recall },
    { metric: `${label} query p50 (ef=${ef})`, value: at.p50Ms, unit: 'ms', goal: `<= ${GOALS.p50Ms}`, met: at.p50Ms <= GOALS.p50Ms },
    { metric: `${label} query p99 (ef=${ef})`, value: at.p99Ms, unit: 'ms' },
    { metric: `${label} QPS (1 thread, from p50)`, value: 1000 / at.p50Ms, unit: 'q/s' },
    { metric: `${label} speedup vs exact (p50, ef=${ef})`, value: at.speedup, unit: 'x', goal: `>= ${GOALS.speedup}`, met: at.speedup >= GOALS.speedup }
  ]
  const cheapest = points.find((point) => point.recall >= GOALS.recall)
  if (cheapest !== undefined && cheapest.ef !== ef) {
    rows.push(
      { metric: `${label} recall@${K} (ef=${cheapest.ef}, the smallest swept ef meeting the goal)`, value: cheapest.recall, unit: '', goal: `>= ${GOALS.recall}`, met: true },
      { metric: `${label} query p50 (ef=${cheapest.ef})`, value: cheapest.p50Ms, unit: 'ms', goal: `<= ${GOALS.p50Ms}`, met: cheapest.p50Ms <= GOALS.p50Ms },
      { metric: `${label} speedup vs exact (p50, ef=${cheapest.ef})`, value: cheapest.speedup, unit: 'x', goal: `>= ${GOALS.speedup}`, met: cheapest.speedup >= GOALS.speedup }
    )
  }
  return rows
}

/**
 * The other way to use shards built in workers: leave each in a worker and send it every query. Each
 * worker loads its shard from disk; a query goes to all of them at once and the k best replies are kept.
 */
async function workerSearchLatencies (index: ShardedHnswIndex, queries: Float32Array, ef: number): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'peerflow-bench-shards-'))
  const workers: Worker[] = []
  try {
    await index.save(dir)
    for (let shard = 0; shard < index.shardCount; shard++) {
      const worker = new Worker(new URL('./lib/shard-search-worker.ts', import.meta.url), { workerData: { dir: join(dir, `shard-${shard}`), ef } })
      workers.push(worker)
      await new Promise<void>((resolve, reject) => { worker.once('message', () => { resolve() }); worker.once('error', reject) })
    }
    const available = queries.length / DIMENSIONS
    const samples: number[] = []
    for (let q = 0; q < HNSW_QUERIES; q++) {
      const query = row(q % available, queries).slice()
      const started = performance.now()
      const replies = await Promise.all(workers.map(async (worker) => await new Promise<ShardSearchReply>((resolve) => {
        worker.once('message', resolve)
        const request: ShardSearchRequest = { id: q, query, k: K }
        worker.postMessage(request)
      })))
      const merged = replies.flatMap((reply) => reply.matches).sort((a, b) => b.similarity - a.similarity).slice(0, K)
      samples.push(performance.now() - started)
      if (merged.length !== K) throw new Error(`the shards returned ${merged.length} matches, expected ${K}`)
    }
    return samples
  } finally {
    await Promise.all(workers.map(async (worker) => await worker.terminate()))
    await rm(dir, { recursive: true, force: true })
  }
}

/** The exact scan over int8-quantized copies of the same vectors: recall against the float32 truth, latency, bytes. */
function int8Rows (data: Float32Array, queries: Float32Array, exact: ExactRun, exactP50: number): BenchRow[] {
  const store = new Int8Vectors(DIMENSIONS, VECTORS)
  for (let i = 0; i < VECTORS; i++) store.add(row(i, data))
  const latencies: number[] = []
  let hits = 0
  exact.truths.forEach((truth, q) => {
    const started = performance.now()
    const found = store.search(row(q, queries), K)
    latencies.push(performance.now() - started)
    hits += found.filter((match) => truth.has(String(match.row))).length
  })
  const recallInt8 = hits / (exact.truths.length * K)
  const bytes = store.bytesPerVector
  log(`  int8 exact scan: recall@${K} ${recallInt8.toFixed(4)}, p50 ${median(latencies).toFixed(2)} ms, ${bytes} B per vector (load ${loadAverage()})`)
  return [
    { metric: 'int8 vectors: bytes per vector (float32: 4 per dimension)', value: bytes, unit: 'B' },
    { metric: 'int8 vectors / float32 vectors, bytes', value: bytes / (DIMENSIONS * Float32Array.BYTES_PER_ELEMENT), unit: 'x' },
    { metric: `int8 exact scan recall@${K} vs the float32 exact scan`, value: recallInt8, unit: '', goal: `>= ${GOALS.recall}`, met: recallInt8 >= GOALS.recall },
    { metric: 'int8 exact scan p50', value: median(latencies), unit: 'ms' },
    { metric: 'int8 exact scan p50 / float32 exact scan p50', value: median(latencies) / exactP50, unit: 'x' }
  ]
}

async function vectorSearch (spread: number): Promise<{ rows: BenchRow[], details: Record<string, unknown> }> {
  log(`vector search: ${VECTORS} x ${DIMENSIONS}-d clustered vectors (${CLUSTERS} clusters, spread ${spread}), k=${K}`)
  const space = new ClusteredSpace({ dimensions: DIMENSIONS, clusters: CLUSTERS, spread, seed: 1 })
  const data = space.sample(VECTORS, 2)
  const queries = space.sample(Math.max(EXACT_QUERIES, 1000), 3)

  const exact = exactRun(data, queries)
  const exactP50 = median(exact.exactMs)
  log(`  exact scan: p50 ${exactP50.toFixed(2)} ms over ${EXACT_QUERIES} queries (load ${loadAverage()})`)

  const quantized = int8Rows(data, queries, exact, exactP50)

  const singleLoad = loadAverage()
  log(`  single index, one thread (M=${SINGLE_PARAMS.m}, efConstruction=${SINGLE_PARAMS.efConstruction}), load ${singleLoad}`)
  const { index: single, seconds: singleSeconds, cpuSeconds: singleCpuSeconds } = buildIndex(data)
  log(`  single build ${singleSeconds.toFixed(1)} s, CPU ${singleCpuSeconds.toFixed(1)} s, load ${loadAverage()}`)
  const singleDiskBytes = await savedBytes(single)
  const singleSweep = sweep('single', single, queries, exact, exactP50)

  const shardedLoad = loadAverage()
  log(`  sharded index, ${SHARDS} shards built in worker threads (M=${DEFAULT_HNSW_PARAMS.m}, efConstruction=${DEFAULT_HNSW_PARAMS.efConstruction}), load ${shardedLoad}`)
  const entries = Array.from({ length: VECTORS }, (_, i) => ({ name: String(i), vector: row(i, data) }))
  const shardCpuSeconds: number[] = []
  let reported = 0
  let started = performance.now()
  const sharded = await buildShardedIndex(entries, {
    dimensions: DIMENSIONS,
    embedder: 'bench',
    shards: SHARDS,
    onShardBuilt: ({ cpuSeconds }) => { shardCpuSeconds.push(cpuSeconds) },
    onProgress: ({ done }) => {
      if (done - reported < VECTORS / 10) return
      reported = done
      log(`  built ${done}/${VECTORS} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    }
  })
  const shardedSeconds = (performance.now() - started) / 1000
  const shardedLoadAfter = loadAverage()
  log(`  sharded build ${shardedSeconds.toFixed(1)} s, CPU per shard ${shardCpuSeconds.map((cpu) => cpu.toFixed(1)).join(', ')} s, load ${shardedLoadAfter}`)
  const shardedDiskBytes = await savedBytes(sharded, async (dir) => {
    let bytes = 0
    for (let shard = 0; shard < SHARDS; shard++) bytes += await sizeOnDisk(join(dir, `shard-${shard}`))
    return bytes
  })
  const shardedSweep = sweep('sharded', sharded, queries, exact, exactP50)
  sharded.ef = DEFAULT_HNSW_PARAMS.ef
  const inWorkers = await workerSearchLatencies(sharded, queries, DEFAULT_HNSW_PARAMS.ef)
  const onMain = shardedSweep.find((point) => point.ef === DEFAULT_HNSW_PARAMS.ef) as SweepPoint
  log(`  sharded, searched inside the workers: p50 ${median(inWorkers).toFixed(3)} ms, p99 ${percentile(inWorkers, 99).toFixed(3)} ms (load ${loadAverage()})`)

  const int8Load = loadAverage()
  log(`  int8 graph, ${SHARDS} threads inserting into one index (M=${DEFAULT_QUANTIZED_PARAMS.m}, efConstruction=${DEFAULT_QUANTIZED_PARAMS.efConstruction}), load ${int8Load}`)
  reported = 0
  started = performance.now()
  const cpuAtStart = process.cpuUsage()
  const int8Graph = await QuantizedHnswIndex.build(entries, {
    dimensions: DIMENSIONS,
    embedder: 'bench',
    threads: SHARDS,
    onProgress: ({ done }) => {
      if (done - reported < VECTORS / 10) return
      reported = done
      log(`  built ${done}/${VECTORS} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    }
  })
  const int8Seconds = (performance.now() - started) / 1000
  const int8Cpu = process.cpuUsage(cpuAtStart)
  const int8CpuSeconds = (int8Cpu.user + int8Cpu.system) / 1e6
  const int8LoadAfter = loadAverage()
  log(`  int8 graph build ${int8Seconds.toFixed(1)} s, process CPU ${int8CpuSeconds.toFixed(1)} s, load ${int8LoadAfter}`)
  const int8DiskBytes = await savedBytes(int8Graph)
  const int8Sweep = sweep('int8 graph', int8Graph, queries, exact, exactP50)

  const buildGoal = (seconds: number): Pick<BenchRow, 'goal' | 'met'> => ({ goal: `<= ${GOALS.buildSeconds}`, met: seconds <= GOALS.buildSeconds })
  const rows: BenchRow[] = [
    { metric: 'exact scan p50', value: exactP50, unit: 'ms' },
    { metric: 'exact scan p99', value: percentile(exact.exactMs, 99), unit: 'ms' },
    { metric: 'exact QPS (1 thread, from p50)', value: 1000 / exactP50, unit: 'q/s' },
    ...quantized,
    { metric: `HNSW build (${VECTORS} vectors)`, value: singleSeconds, unit: 's', ...buildGoal(singleSeconds) },
    { metric: 'single index: parameters, load average before the build', value: `M=${SINGLE_PARAMS.m} efC=${SINGLE_PARAMS.efConstruction}, one thread; load ${singleLoad}`, unit: '' },
    { metric: 'HNSW build per vector', value: (singleSeconds * 1e6) / VECTORS, unit: 'us' },
    { metric: 'single index build CPU (the thread that built it)', value: singleCpuSeconds, unit: 's' },
    { metric: 'index bytes per vector', value: singleDiskBytes / VECTORS, unit: 'B', goal: `<= ${GOALS.bytesPerVector}`, met: singleDiskBytes / VECTORS <= GOALS.bytesPerVector },
    ...searchRows('single', singleSweep, SINGLE_PARAMS.ef),
    { metric: `sharded HNSW build (${VECTORS} vectors)`, value: shardedSeconds, unit: 's', ...buildGoal(shardedSeconds) },
    { metric: 'sharded: parameters, load average before and after the build', value: `${SHARDS} shards, M=${DEFAULT_HNSW_PARAMS.m} efC=${DEFAULT_HNSW_PARAMS.efConstruction}; load ${shardedLoad} -> ${shardedLoadAfter}`, unit: '' },
    { metric: 'sharded build CPU per shard (the slowest)', value: Math.max(...shardCpuSeconds), unit: 's' },
    { metric: 'sharded build speedup over the single-index build', value: singleSeconds / shardedSeconds, unit: 'x' },
    // On a shared machine the wall times depend on the other load; the CPU times say what the build would take with a core per shard.
    { metric: 'single build CPU / slowest shard CPU', value: singleCpuSeconds / Math.max(...shardCpuSeconds), unit: 'x' },
    { metric: 'sharded index bytes per vector', value: shardedDiskBytes / VECTORS, unit: 'B', goal: `<= ${GOALS.bytesPerVector}`, met: shardedDiskBytes / VECTORS <= GOALS.bytesPerVector },
    ...searchRows('sharded', shardedSweep, DEFAULT_HNSW_PARAMS.ef),
    { metric: `sharded, searched inside the workers: p50 (ef=${DEFAULT_HNSW_PARAMS.ef})`, value: median(inWorkers), unit: 'ms', goal: `<= ${GOALS.p50Ms}`, met: median(inWorkers) <= GOALS.p50Ms },
    { metric: `sharded, searched inside the workers: p99 (ef=${DEFAULT_HNSW_PARAMS.ef})`, value: percentile(inWorkers, 99), unit: 'ms' },
    { metric: 'in-worker search p50 / main-thread search p50', value: median(inWorkers) / onMain.p50Ms, unit: 'x' },
    { metric: `int8 graph HNSW build (${VECTORS} vectors, ${SHARDS} threads into one index)`, value: int8Seconds, unit: 's', ...buildGoal(int8Seconds) },
    { metric: 'int8 graph: parameters, load average before and after the build', value: `${SHARDS} threads, M=${DEFAULT_QUANTIZED_PARAMS.m} efC=${DEFAULT_QUANTIZED_PARAMS.efConstruction}; load ${int8Load} -> ${int8LoadAfter}`, unit: '' },
    { metric: 'int8 graph build CPU (all threads)', value: int8CpuSeconds, unit: 's' },
    { metric: 'int8 graph build speedup over the single-index build', value: singleSeconds / int8Seconds, unit: 'x' },
    { metric: 'int8 graph build speedup over the sharded build', value: shardedSeconds / int8Seconds, unit: 'x' },
    { metric: 'int8 graph bytes per vector in memory (links, int8 codes and scale, float16 copy, label)', value: int8Graph.bytesPerVector, unit: 'B' },
    { metric: 'int8 graph index bytes per vector on disk', value: int8DiskBytes / VECTORS, unit: 'B', goal: `<= ${GOALS.bytesPerVector}`, met: int8DiskBytes / VECTORS <= GOALS.bytesPerVector },
    { metric: 'int8 graph on disk / single float32 index on disk', value: int8DiskBytes / singleDiskBytes, unit: 'x' },
    ...searchRows('int8 graph', int8Sweep, DEFAULT_QUANTIZED_PARAMS.ef)
  ]
  return {
    rows,
    details: {
      vectors: VECTORS,
      dimensions: DIMENSIONS,
      clusters: CLUSTERS,
      spread,
      k: K,
      single: { params: SINGLE_PARAMS, buildSeconds: singleSeconds, cpuSeconds: singleCpuSeconds, loadBefore: singleLoad, efSweep: singleSweep },
      sharded: { shards: SHARDS, params: DEFAULT_HNSW_PARAMS, buildSeconds: shardedSeconds, shardCpuSeconds, loadBefore: shardedLoad, loadAfter: shardedLoadAfter, efSweep: shardedSweep, inWorkerP50Ms: median(inWorkers) },
      int8Graph: { threads: SHARDS, params: DEFAULT_QUANTIZED_PARAMS, buildSeconds: int8Seconds, cpuSeconds: int8CpuSeconds, loadBefore: int8Load, loadAfter: int8LoadAfter, bytesPerVector: int8Graph.bytesPerVector, diskBytesPerVector: int8DiskBytes / VECTORS, efSweep: int8Sweep }
    }
  }
}

async function endToEnd (): Promise<{ rows: BenchRow[], details: Record<string, unknown> }> {
  log(`\nend to end: ReasoningBank with the USE embedder, ${PATTERNS} patterns`)
  const embedder = new UseEmbedder()
  let started = performance.now()
  await embedder.embed(['warm up'])
  const loadSeconds = (performance.now() - started) / 1000

  const texts = patternTexts(PATTERNS)
  const store = new InMemoryPatternStore()
  started = performance.now()
  const batch = 256
  for (let start = 0; start < texts.length; start += batch) {
    const chunk = texts.slice(start, start + batch)
    const vectors = await embedder.embed(chunk)
    const now = Date.now()
    for (let i = 0; i < chunk.length; i++) {
      await store.put({
        name: `pattern-${start + i}`,
        content: chunk[i] as string,
        namespace: `ns-${(start + i) % 5}`,
        confidence: 0.5,
        uses: 0,
        successes: 0,
        failures: 0,
        createdAt: now,
        lastUsedAt: now,
        embedding: Array.from(vectors[i] as Float32Array),
        embedder: embedder.id,
        metadata: {}
      })
    }
    if ((start / batch) % 8 === 7 || start + batch >= texts.length) log(`  embedded ${Math.min(start + batch, texts.length)}/${texts.length}`)
  }
  const embedSeconds = (performance.now() - started) / 1000

  const dir = await mkdtemp(join(tmpdir(), 'peerflow-bench-bank-'))
  try {
    started = performance.now()
    const bank = await ReasoningBank.open({ store, embedder, indexDir: dir })
    await bank.indexReady
    const openSeconds = (performance.now() - started) / 1000
    const queries = queryTexts(BANK_QUERIES)
    const queryMs: number[] = []
    const embedMs: number[] = []
    for (const text of queries) {
      started = performance.now()
      await embedder.embed([text])
      embedMs.push(performance.now() - started)
      started = performance.now()
      await bank.query(text, { limit: 5 })
      queryMs.push(performance.now() - started)
    }
    await bank.close()
    const p50 = median(queryMs)
    const rows: BenchRow[] = [
      { metric: 'USE model load', value: loadSeconds, unit: 's' },
      { metric: 'USE embedding throughput (batches of 256)', value: PATTERNS / embedSeconds, unit: 'texts/s' },
      { metric: `bank open + index rebuild in the background until ready (${PATTERNS} patterns)`, value: openSeconds, unit: 's' },
      { metric: 'bank query p50 (embed + search + rank)', value: p50, unit: 'ms', goal: `< ${GOALS.endToEndP50Ms}`, met: p50 < GOALS.endToEndP50Ms },
      { metric: 'bank query p99', value: percentile(queryMs, 99), unit: 'ms' },
      { metric: 'of which query embedding p50', value: median(embedMs), unit: 'ms' }
    ]
    return { rows, details: { patterns: PATTERNS, queries: BANK_QUERIES, embedder: embedder.id } }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const searches = []
for (const spread of SPREADS) {
  const search = await vectorSearch(spread)
  printRows(`vector search, spread ${spread} (${quick ? 'quick' : 'full'} run)`, search.rows)
  searches.push({ ...search, spread })
}
const bank = await endToEnd()
printRows('end to end', bank.rows)
const rows = searches.flatMap(({ rows: spaceRows, spread }) => spaceRows.map((row) => ({ ...row, metric: `[spread ${spread}] ${row.metric}` })))
await writeResults('vectors', [...rows, ...bank.rows], { quick, search: searches.map(({ details }) => details), endToEnd: bank.details })
