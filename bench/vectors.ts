/**
 * npm run bench:vectors — the ReasoningBank's vector search: HNSW (M=16, efConstruction=100, ef=100) against
 * an exact scan over the same Float32 data in the same run, on 100k clustered 384-d vectors, with an ef
 * sweep for the recall/latency trade-off. Two spaces: loose clusters (cosine ≈ 0.2 within a cluster, the
 * main figures) and tighter ones (≈ 0.5), because HNSW's cost depends on how structured the data is.
 * Then the end-to-end query latency of a ReasoningBank with the Universal Sentence Encoder at 10k
 * patterns. BENCH_QUICK=1 (or --quick) runs 10k vectors and 1k patterns.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_HNSW_PARAMS, HnswIndex } from '../src/reasoningbank/hnsw-index.ts'
import { exactSearch } from '../src/reasoningbank/exact-search.ts'
import { InMemoryPatternStore } from '../src/reasoningbank/in-memory-pattern-store.ts'
import { ReasoningBank } from '../src/reasoningbank/reasoning-bank.ts'
import { UseEmbedder } from '../src/reasoningbank/use-embedder.ts'
import { ClusteredSpace } from './lib/clustered-vectors.ts'
import { patternTexts, queryTexts } from './lib/pattern-texts.ts'
import { median, percentile, printRows, writeResults, type BenchRow } from './lib/report.ts'

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
const EF_SWEEP = [16, 32, 64, 100, 200]
const PATTERNS = quick ? 1_000 : 10_000
const BANK_QUERIES = quick ? 100 : 300

const GOALS = { recall: 0.98, p50Ms: 0.4, speedup: 150, bytesPerVector: 2048, buildSeconds: 40, endToEndP50Ms: 30 }

function log (line: string): void {
  process.stdout.write(`${line}\n`)
}

function row (i: number, matrix: Float32Array): Float32Array {
  return matrix.subarray(i * DIMENSIONS, (i + 1) * DIMENSIONS)
}

function buildIndex (data: Float32Array): { index: HnswIndex, seconds: number } {
  const index = HnswIndex.create({ dimensions: DIMENSIONS, embedder: 'bench', initialCapacity: VECTORS })
  const started = performance.now()
  const step = VECTORS / 10
  for (let i = 0; i < VECTORS; i++) {
    index.upsert(String(i), row(i, data))
    if ((i + 1) % step === 0) log(`  built ${i + 1}/${VECTORS} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
  return { index, seconds: (performance.now() - started) / 1000 }
}

async function sizeOnDisk (dir: string): Promise<number> {
  let bytes = 0
  for (const file of await readdir(dir)) bytes += (await stat(join(dir, file))).size
  return bytes
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

function recall (index: HnswIndex, queries: Float32Array, truths: Array<Set<string>>): number {
  let hits = 0
  truths.forEach((truth, q) => { hits += index.search(row(q, queries), K).filter((match) => truth.has(match.name)).length })
  return hits / (truths.length * K)
}

function hnswLatencies (index: HnswIndex, queries: Float32Array): number[] {
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

async function vectorSearch (spread: number): Promise<{ rows: BenchRow[], details: Record<string, unknown> }> {
  log(`vector search: ${VECTORS} x ${DIMENSIONS}-d clustered vectors (${CLUSTERS} clusters, spread ${spread}), k=${K}`)
  const space = new ClusteredSpace({ dimensions: DIMENSIONS, clusters: CLUSTERS, spread, seed: 1 })
  const data = space.sample(VECTORS, 2)
  const queries = space.sample(Math.max(EXACT_QUERIES, 1000), 3)
  const { index, seconds } = buildIndex(data)

  const dir = await mkdtemp(join(tmpdir(), 'peerflow-bench-vectors-'))
  let diskBytes: number
  try {
    await index.save(dir)
    diskBytes = await sizeOnDisk(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }

  const exact = exactRun(data, queries)
  const exactP50 = median(exact.exactMs)
  log(`  exact scan: p50 ${exactP50.toFixed(2)} ms over ${EXACT_QUERIES} queries`)
  const sweep: Array<{ ef: number, recall: number, p50Ms: number, p99Ms: number, speedup: number }> = []
  for (const ef of EF_SWEEP) {
    index.ef = ef
    const latencies = hnswLatencies(index, queries)
    const point = { ef, recall: recall(index, queries, exact.truths), p50Ms: median(latencies), p99Ms: percentile(latencies, 99), speedup: exactP50 / median(latencies) }
    sweep.push(point)
    log(`  ef=${ef}: recall@${K} ${point.recall.toFixed(4)}, p50 ${point.p50Ms.toFixed(3)} ms, p99 ${point.p99Ms.toFixed(3)} ms, ${point.speedup.toFixed(0)}x exact`)
  }
  index.ef = DEFAULT_HNSW_PARAMS.ef
  const atDefault = sweep.find((point) => point.ef === DEFAULT_HNSW_PARAMS.ef)
  if (atDefault === undefined) throw new Error('the ef sweep must include the default ef')
  const cheapestMeetingRecall = sweep.find((point) => point.recall >= GOALS.recall)

  const bytesPerVector = diskBytes / VECTORS
  const rows: BenchRow[] = [
    { metric: `HNSW build (${VECTORS} vectors)`, value: seconds, unit: 's', goal: `<= ${GOALS.buildSeconds}`, met: seconds <= GOALS.buildSeconds },
    { metric: 'HNSW build per vector', value: (seconds * 1e6) / VECTORS, unit: 'us' },
    { metric: 'index size on disk', value: diskBytes / 2 ** 20, unit: 'MiB' },
    { metric: 'index bytes per vector', value: bytesPerVector, unit: 'B', goal: `<= ${GOALS.bytesPerVector}`, met: bytesPerVector <= GOALS.bytesPerVector },
    { metric: `recall@${K} (ef=${DEFAULT_HNSW_PARAMS.ef})`, value: atDefault.recall, unit: '', goal: `>= ${GOALS.recall}`, met: atDefault.recall >= GOALS.recall },
    { metric: `HNSW query p50 (ef=${DEFAULT_HNSW_PARAMS.ef})`, value: atDefault.p50Ms, unit: 'ms', goal: `<= ${GOALS.p50Ms}`, met: atDefault.p50Ms <= GOALS.p50Ms },
    { metric: `HNSW query p99 (ef=${DEFAULT_HNSW_PARAMS.ef})`, value: atDefault.p99Ms, unit: 'ms' },
    { metric: 'HNSW QPS (1 thread, from p50)', value: 1000 / atDefault.p50Ms, unit: 'q/s' },
    { metric: 'exact scan p50', value: exactP50, unit: 'ms' },
    { metric: 'exact scan p99', value: percentile(exact.exactMs, 99), unit: 'ms' },
    { metric: 'exact QPS (1 thread, from p50)', value: 1000 / exactP50, unit: 'q/s' },
    { metric: `speedup vs exact (p50, ef=${DEFAULT_HNSW_PARAMS.ef})`, value: atDefault.speedup, unit: 'x', goal: `>= ${GOALS.speedup}`, met: atDefault.speedup >= GOALS.speedup }
  ]
  if (cheapestMeetingRecall !== undefined && cheapestMeetingRecall.ef !== DEFAULT_HNSW_PARAMS.ef) {
    const { ef, recall: reached, p50Ms, speedup: faster } = cheapestMeetingRecall
    rows.push(
      { metric: `recall@${K} (ef=${ef}, the smallest swept ef meeting the goal)`, value: reached, unit: '', goal: `>= ${GOALS.recall}`, met: true },
      { metric: `HNSW query p50 (ef=${ef})`, value: p50Ms, unit: 'ms', goal: `<= ${GOALS.p50Ms}`, met: p50Ms <= GOALS.p50Ms },
      { metric: `speedup vs exact (p50, ef=${ef})`, value: faster, unit: 'x', goal: `>= ${GOALS.speedup}`, met: faster >= GOALS.speedup }
    )
  }
  return { rows, details: { vectors: VECTORS, dimensions: DIMENSIONS, clusters: CLUSTERS, spread, k: K, params: DEFAULT_HNSW_PARAMS, buildSeconds: seconds, efSweep: sweep } }
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
      { metric: `bank open + index rebuild (${PATTERNS} patterns)`, value: openSeconds, unit: 's' },
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
