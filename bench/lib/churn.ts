/**
 * Growth under churn, part of `npm run bench:memory`: the `tasks` namespace of one node's store
 * (the MemoryStore the node runs, on LevelDB) takes a stream of tasks, each created, assigned,
 * updated twice, finished and then expired by the TTL sweep, so the live data stays a small window
 * of recent tasks while the history grows without end. Measured twice in the same run: without
 * epoch rollover (the store before it existed) and with the default rollover thresholds.
 * Reported at the start (after the first tenth of the tasks) and at the end: the encoded doc size,
 * the LevelDB directory size, the live entries' size, and the CPU time per task over the last
 * window of tasks.
 *
 * Run alone: `node bench/lib/churn.ts` (BENCH_QUICK=1 for 5k tasks).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MemoryStore, NAMESPACES } from '../../crdt/index.ts'
import { median, printRows, writeResults, type BenchRow } from './report.ts'

const NS = NAMESPACES.tasks
const AUTHOR = '12D3KooWChurnBenchAuthor'
/** Tasks in flight together (their writes share store batches, as a busy node's do). */
const GROUP = 100
/** Simulated ms between groups, and the lifetime of a finished task's records: about 5 groups stay live. */
const GROUP_MS = 10
const TTL_MS = 5 * GROUP_MS

export interface ChurnPoint {
  tasks: number
  docBytes: number
  diskBytes: number
  liveEntries: number
  liveBytes: number
  epoch: number
  /** CPU (user + system) per task over the window of tasks before this point. */
  cpuUsPerTask: number
}

export interface ChurnRun {
  rollover: boolean
  start: ChurnPoint
  end: ChurnPoint
  /** The doc's size over its live data after every tenth of the tasks: where the run stops decides the end's. */
  ratios: Array<{ tasks: number, docToLive: number }>
  wallMs: number
}

async function directoryBytes (dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    total += entry.isDirectory() ? await directoryBytes(path) : (await stat(path)).size
  }
  return total
}

function docBytes (store: MemoryStore): number {
  return [...store.missingUpdates(NS, Uint8Array.of(0))].reduce((sum, part) => sum + part.byteLength, 0)
}

/** One task's life: spec, assignment, two progress updates, result; all expire TTL_MS after the result. */
async function runTask (store: MemoryStore, id: string, now: number): Promise<void> {
  const put = async (key: string, value: object): Promise<void> => {
    await store.put(NS, key, value as never, { author: AUTHOR, now, ttlMs: TTL_MS })
  }
  await put(`task/${id}`, { swarm: 'bench', role: 'coder', prompt: `fix issue ${id}: the build fails on a clean checkout`, priority: 'balanced', retries: 2 })
  await put(`task/${id}/a/1.1`, { worker: AUTHOR, term: 1, at: now })
  await put(`task/${id}/p/1.1`, { state: 'running', turns: 1, tokens: 1200, at: now })
  await put(`task/${id}/p/1.1`, { state: 'running', turns: 4, tokens: 5300, at: now })
  await put(`task/${id}/r/1.1`, { state: 'done', summary: `fixed ${id}: pinned the toolchain`, tokens: 6100, at: now })
}

async function measure (store: MemoryStore, dir: string, tasks: number, cpuUsPerTask: number): Promise<ChurnPoint> {
  const info = store.namespaces().find((namespace) => namespace.name === NS)
  return {
    tasks,
    docBytes: docBytes(store),
    diskBytes: await directoryBytes(dir),
    liveEntries: info?.entries ?? 0,
    liveBytes: info?.bytes ?? 0,
    epoch: store.epochOf(NS).number,
    cpuUsPerTask
  }
}

export async function runChurn (tasks: number, rollover: boolean): Promise<ChurnRun> {
  const dir = await mkdtemp(join(tmpdir(), 'peerflow-churn-'))
  // The store runs on the simulated clock: a rollover carries over the entries live at the bench's time.
  let now = 0
  const clock = (): number => now
  const store = await MemoryStore.open(dir, rollover ? { clock } : { clock, rolloverAfterBytes: 0 })
  const window = Math.max(GROUP, Math.floor(tasks / 10))
  let start: ChurnPoint | undefined
  const ratios: ChurnRun['ratios'] = []
  const started = performance.now()
  try {
    // CPU is measured over the first window of tasks and over the last one.
    const firstCpu = process.cpuUsage()
    let cpu = firstCpu
    let windowStart = 0
    for (let done = 0, group = 0; done < tasks; done += GROUP, group++) {
      now = group * GROUP_MS
      await Promise.all(Array.from({ length: Math.min(GROUP, tasks - done) }, async (_, i) => runTask(store, `t-${done + i}`, now)))
      await store.sweep(now)
      const completed = Math.min(done + GROUP, tasks)
      if (completed % window === 0) {
        const live = store.namespaces().find((namespace) => namespace.name === NS)?.bytes ?? 0
        ratios.push({ tasks: completed, docToLive: docBytes(store) / Math.max(1, live) })
      }
      if (start === undefined && completed >= window) {
        const used = process.cpuUsage(firstCpu)
        start = await measure(store, dir, completed, (used.user + used.system) / completed)
      }
      if (completed <= tasks - window) {
        cpu = process.cpuUsage()
        windowStart = completed
      }
    }
    const used = process.cpuUsage(cpu)
    const end = await measure(store, dir, tasks, (used.user + used.system) / Math.max(1, tasks - windowStart))
    return { rollover, start: start ?? end, end, ratios, wallMs: performance.now() - started }
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const KIB = 1024

/** Rows whose metric names contain `churn`, before (no rollover) and after (rollover), with ratios. */
export async function churnRows (tasks: number): Promise<{ rows: BenchRow[], samples: unknown }> {
  process.stdout.write(`growth under churn: ${tasks} tasks through the tasks namespace, without and with epoch rollover\n`)
  const load = loadavg()[0]
  const before = await runChurn(tasks, false)
  const after = await runChurn(tasks, true)
  const rows: BenchRow[] = []
  for (const [label, run] of [['no rollover', before], ['rollover', after]] as const) {
    rows.push(
      { metric: `churn doc size at ${run.start.tasks} tasks (${label})`, value: run.start.docBytes / KIB, unit: 'KiB' },
      { metric: `churn doc size at ${run.end.tasks} tasks (${label})`, value: run.end.docBytes / KIB, unit: 'KiB' },
      { metric: `churn on-disk size at ${run.start.tasks} tasks (${label})`, value: run.start.diskBytes / KIB, unit: 'KiB' },
      { metric: `churn on-disk size at ${run.end.tasks} tasks (${label})`, value: run.end.diskBytes / KIB, unit: 'KiB' },
      { metric: `churn CPU per task, first ${run.start.tasks} tasks (${label})`, value: run.start.cpuUsPerTask, unit: 'µs' },
      { metric: `churn CPU per task, last ${run.end.tasks - run.start.tasks > 0 ? run.start.tasks : 0} tasks (${label})`, value: run.end.cpuUsPerTask, unit: 'µs' }
    )
  }
  const live = after.end.liveBytes
  const endRatio = after.end.docBytes / before.end.docBytes
  rows.push(
    { metric: `churn live entries at the end (${after.end.liveEntries} entries)`, value: live / KIB, unit: 'KiB' },
    { metric: 'churn epochs rolled over (rollover)', value: after.end.epoch, unit: 'epochs' },
    { metric: 'churn doc size at the end / live data (rollover)', value: after.end.docBytes / Math.max(1, live), unit: 'x' },
    {
      // Between rollovers a doc grows to the history ratio (4) times its live data, plus what the log
      // adds until the next compaction checks it.
      metric: `churn doc size / live data, worst of ${after.ratios.length} samples (rollover)`,
      value: Math.max(...after.ratios.map((sample) => sample.docToLive)),
      unit: 'x',
      goal: '<= 5 x',
      met: after.ratios.every((sample) => sample.docToLive <= 5)
    },
    { metric: `churn doc size / live data, median of ${after.ratios.length} samples (rollover)`, value: median(after.ratios.map((sample) => sample.docToLive)), unit: 'x' },
    { metric: 'churn doc size at the end / live data (no rollover)', value: before.end.docBytes / Math.max(1, live), unit: 'x' },
    { metric: 'churn doc size at the end, rollover / no rollover', value: endRatio, unit: 'x' },
    { metric: 'churn on-disk size at the end, rollover / no rollover', value: after.end.diskBytes / before.end.diskBytes, unit: 'x' },
    { metric: 'churn load average (1 min) at the start', value: load, unit: '' }
  )
  return { rows, samples: { tasks, before, after, loadAverage: loadavg() } }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { rows, samples } = await churnRows(process.env.BENCH_QUICK === '1' ? 5_000 : 50_000)
  printRows('growth under churn', rows)
  await writeResults('memory-churn', rows, { samples })
}
