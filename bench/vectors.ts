/**
 * npm run bench:vectors — the ReasoningBank's vector search: HNSW (M=16, efConstruction=200, ef=100) against
 * an exact scan over the same Float32 data in the same run, on 100k clustered 384-d vectors; then the
 * end-to-end query latency of a ReasoningBank with the Universal Sentence Encoder at 10k patterns.
 * BENCH_QUICK=1 (or --quick) runs 10k vectors and 1k patterns instead.
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
const K = 10
/** Exact scans are slow at full size, so recall and the exact latencies use fewer queries than HNSW latency. */
const EXACT_QUERIES = quick ? 100 : 200
const HNSW_QUERIES = quick ? 1000 : 2000
const EF_SWEEP = [50, 100, 200]
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

interface SearchRun { recall: number, hnswMs: number[], exactMs: number[] }

/** Exact and HNSW answers to the same queries, timed alternately so that machine noise hits both alike. */
function compare (index: HnswIndex, data: Float32Array, queries: Float32Array): SearchRun {
  let hits = 0
  const hnswMs: number[] = []
  const exactMs: number[] = []
  for (let q = 0; q < EXACT_QUERIES; q++) {
    const query = row(q, queries)
    let started = performance.now()
    const truth = exactSearch(data, DIMENSIONS, query, K)
    exactMs.push(performance.now() - started)
    started = performance.now()
    const found = index.search(query, K)
    hnswMs.push(performance.now() - started)
    const expected = new Set(truth.map((match) => String(match.row)))
    hits += found.filter((match) => expected.has(match.name)).length
  }
  return { recall: hits / (EXACT_QUERIES * K), hnswMs, exactMs }
}

function hnswLatencies (index: HnswIndex, queries: Float32Array, count: number): number[] {
  const samples: number[] = []
  for (let q = 0; q < count; q++) {
    const query = row(q % (queries.length / DIMENSIONS), queries)
    const started = performance.now()
    index.search(query, K)
    samples.push(performance.now() - started)
  }
  return samples
}

async function vectorSearch (): Promise<{ rows: BenchRow[], details: Record<string, unknown> }> {
  log(`vector search: ${VECTORS} x ${DIMENSIONS}-d clustered vectors (${CLUSTERS} clusters), k=${K}`)
  const space = new ClusteredSpace({ dimensions: DIMENSIONS, clusters: CLUSTERS, spread: 1, seed: 1 })
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

  const sweep: Array<{ ef: number, recall: number, p50Ms: number, p99Ms: number }> = []
  let atDefault: SearchRun | undefined
  for (const ef of EF_SWEEP) {
    index.ef = ef
    const run = compare(index, data, queries)
    const latencies = hnswLatencies(index, queries, HNSW_QUERIES)
    sweep.push({ ef, recall: run.recall, p50Ms: median(latencies), p99Ms: percentile(latencies, 99) })
    log(`  ef=${ef}: recall@${K} ${run.recall.toFixed(4)}, p50 ${median(latencies).toFixed(3)} ms, exact p50 ${median(run.exactMs).toFixed(2)} ms`)
    if (ef === DEFAULT_HNSW_PARAMS.ef) atDefault = { ...run, hnswMs: latencies }
  }
  if (atDefault === undefined) throw new Error('the ef sweep must include the default ef')
  index.ef = DEFAULT_HNSW_PARAMS.ef

  const hnswP50 = median(atDefault.hnswMs)
  const exactP50 = median(atDefault.exactMs)
  const speedup = exactP50 / hnswP50
  const bytesPerVector = diskBytes / VECTORS
  const rows: BenchRow[] = [
    { metric: `HNSW build (${VECTORS} vectors)`, value: seconds, unit: 's', goal: `<= ${GOALS.buildSeconds}`, met: seconds <= GOALS.buildSeconds },
    { metric: 'index size on disk', value: diskBytes / 2 ** 20, unit: 'MiB' },
    { metric: 'index bytes per vector', value: bytesPerVector, unit: 'B', goal: `<= ${GOALS.bytesPerVector}`, met: bytesPerVector <= GOALS.bytesPerVector },
    { metric: `recall@${K} (ef=${DEFAULT_HNSW_PARAMS.ef})`, value: atDefault.recall, unit: '', goal: `>= ${GOALS.recall}`, met: atDefault.recall >= GOALS.recall },
    { metric: 'HNSW query p50', value: hnswP50, unit: 'ms', goal: `<= ${GOALS.p50Ms}`, met: hnswP50 <= GOALS.p50Ms },
    { metric: 'HNSW query p99', value: percentile(atDefault.hnswMs, 99), unit: 'ms' },
    { metric: 'HNSW QPS (1 thread)', value: 1000 / mean(atDefault.hnswMs), unit: 'q/s' },
    { metric: 'exact scan p50', value: exactP50, unit: 'ms' },
    { metric: 'exact scan p99', value: percentile(atDefault.exactMs, 99), unit: 'ms' },
    { metric: 'exact QPS (1 thread)', value: 1000 / mean(atDefault.exactMs), unit: 'q/s' },
    { metric: 'speedup HNSW vs exact (p50)', value: speedup, unit: 'x', goal: `>= ${GOALS.speedup}`, met: speedup >= GOALS.speedup }
  ]
  return { rows, details: { vectors: VECTORS, dimensions: DIMENSIONS, clusters: CLUSTERS, k: K, params: DEFAULT_HNSW_PARAMS, efSweep: sweep } }
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

function mean (values: number[]): number {
  return values.reduce((total, value) => total + value, 0) / values.length
}

const search = await vectorSearch()
printRows(`vector search (${quick ? 'quick' : 'full'} run)`, search.rows)
const bank = await endToEnd()
printRows('end to end', bank.rows)
await writeResults('vectors', [...search.rows, ...bank.rows], { quick, search: search.details, endToEnd: bank.details })
