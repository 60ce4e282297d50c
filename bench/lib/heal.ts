/**
 * Convergence after a fault heals, on five `peerflow start` processes on loopback (QUIC), fully
 * meshed. Each round faults one node for a few seconds while the others (and, when it can, the
 * faulted node) keep writing acknowledged entries, then heals it and measures the time until every
 * node holds every acknowledged write:
 *
 * - block: the node and the four others `block` each other (both sides, over the control API);
 *   healed by `unblock` on both sides. Nothing else is done: the nodes must redial on their own.
 * - pause: SIGSTOP, healed by SIGCONT (its connections stay open on both sides meanwhile).
 * - kill: SIGKILL, healed by starting it again from its data dir; measured from the restarted
 *   process's banner (it listens and answers its API), and from the spawn as a second figure.
 *   Nobody joins it to anything: it redials the peers it remembers.
 *
 * The baseline, measured in the same run, is the same writes with no fault: the time from the
 * last write until every node holds all of them (gossip, plus this script's 10 ms polling).
 * The faulted node rotates, so every node is faulted. Faults last BENCH_HEAL_FAULT_MS (default
 * 3 s, a short stand-in for the issue's 60 s: the backoff a fault leaves behind grows with its
 * length, so BENCH_HEAL_FAULT_MS=60000 is the long variant, taking about 40 minutes).
 */
import { kill, pause, restart, resume, setPartition } from '../../test/helpers/faults.ts'
import { apiCall, entriesOf, pollFor, SwarmCluster, type ClusterMember } from '../../test/helpers/swarm-cluster.ts'
import { median, type BenchRow } from './report.ts'

export const DEFAULT_HEAL_FAULT_MS = 3_000

/** 'none' is the baseline: the same writes with no fault, measured from the last write. */
export type HealFault = 'none' | 'block' | 'pause' | 'kill'

export interface HealOptions {
  /** Heals measured per fault kind. */
  heals: number
  faultMs: number
  /** Acknowledged writes per writing node during each fault, spread over it. */
  writesPerNode: number
  /** The faults measured, in this order ('none' is the no-fault baseline). */
  faults: HealFault[]
  /** A pino level: the nodes log at it, and each round prints their lines from the heal to convergence. */
  nodeLog?: string
}

export interface HealSample {
  fault: HealFault
  victim: string
  /** Acknowledged writes the fault round added, all of which every node must hold. */
  writes: number
  convergeMs: number
  /** kill only: from spawning the restarted process. */
  fromSpawnMs?: number
}

export const HEAL_NAMESPACE = 'bench-heal'
const CONVERGE_TIMEOUT_MS = 60_000

export function healOptionsFromEnv (): HealOptions {
  return {
    heals: Number(process.env.BENCH_HEAL_ROUNDS ?? 10),
    faultMs: Number(process.env.BENCH_HEAL_FAULT_MS ?? DEFAULT_HEAL_FAULT_MS),
    writesPerNode: Number(process.env.BENCH_HEAL_WRITES ?? 20),
    faults: faultsFrom(process.env.BENCH_HEAL_FAULTS),
    nodeLog: process.env.BENCH_HEAL_LOG
  }
}

const ALL_FAULTS: readonly HealFault[] = ['none', 'block', 'pause', 'kill']

/** A comma-separated subset of none,block,pause,kill; all of them when unset. */
function faultsFrom (list: string | undefined): HealFault[] {
  if (list === undefined || list.trim() === '') return [...ALL_FAULTS]
  const faults = list.split(',').map((fault) => fault.trim())
  const unknown = faults.filter((fault) => !(ALL_FAULTS as readonly string[]).includes(fault))
  if (unknown.length > 0) throw new Error(`BENCH_HEAL_FAULTS: unknown fault ${unknown.join(', ')} (known: ${ALL_FAULTS.join(', ')})`)
  return ALL_FAULTS.filter((fault) => faults.includes(fault))
}

const now = (): number => performance.timeOrigin + performance.now()
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Entries of the heal namespace a node holds, or -1 while it cannot answer. */
async function entriesOn (member: ClusterMember): Promise<number> {
  return await entriesOf(member.api, HEAL_NAMESPACE)
}

/** Resolves with the time every member first held `count` entries, polled every 10 ms. */
async function whenAllHold (members: ClusterMember[], count: number): Promise<number> {
  const deadline = now() + CONVERGE_TIMEOUT_MS
  for (;;) {
    const counts = await Promise.all(members.map(entriesOn))
    if (counts.every((held) => held >= count)) return now()
    if (now() > deadline) throw new Error(`not converged within ${CONVERGE_TIMEOUT_MS} ms: nodes hold ${counts.join(', ')} of ${count}`)
    await sleep(10)
  }
}

async function put (member: ClusterMember, key: string): Promise<boolean> {
  try {
    const reply = await apiCall(member.api, 'POST', `/memory/${HEAL_NAMESPACE}`, { key, value: { key, at: Date.now() } }, 5_000)
    return reply.status === 200
  } catch {
    return false
  }
}

/** `writesPerNode` puts on each writer, spread over `durationMs`; resolves with how many were acknowledged. */
async function writeDuring (writers: ClusterMember[], round: string, writesPerNode: number, durationMs: number): Promise<number> {
  const gapMs = durationMs / writesPerNode
  const acknowledged = await Promise.all(writers.map(async (writer, w) => {
    let acked = 0
    for (let i = 0; i < writesPerNode; i++) {
      const started = now()
      if (await put(writer, `${round}-w${w}-${i}`)) acked++
      await sleep(Math.max(0, gapMs - (now() - started)))
    }
    return acked
  }))
  return acknowledged.reduce((sum, n) => sum + n, 0)
}

/** One fault round; `held` is what every node holds before it. Resolves with the sample and the new total. */
async function healRound (cluster: SwarmCluster, fault: HealFault, victim: ClusterMember, round: string, held: number, options: HealOptions): Promise<HealSample & { total: number }> {
  const others = cluster.members.filter((member) => member !== victim)
  let writes: number
  let healedAt: number
  let spawnedAt: number | undefined
  if (fault === 'none') {
    writes = await writeDuring(cluster.members, round, options.writesPerNode, options.faultMs)
    healedAt = now()
  } else if (fault === 'block') {
    await setPartition('block', [victim], others)
    writes = await writeDuring(cluster.members, round, options.writesPerNode, options.faultMs)
    healedAt = now()
    await setPartition('unblock', [victim], others)
  } else if (fault === 'pause') {
    pause(victim)
    writes = await writeDuring(others, round, options.writesPerNode, options.faultMs)
    healedAt = now()
    resume(victim)
  } else {
    await kill(victim)
    writes = await writeDuring(others, round, options.writesPerNode, options.faultMs)
    spawnedAt = now()
    await restart(victim, logEnv(options))
    healedAt = now()
  }
  const total = held + writes
  const convergedAt = await whenAllHold(cluster.members, total)
  if (options.nodeLog !== undefined) printNodeLog(cluster.members, victim, healedAt, convergedAt)
  return {
    fault,
    victim: victim.peerId,
    writes,
    convergeMs: convergedAt - healedAt,
    ...(spawnedAt === undefined ? {} : { fromSpawnMs: convergedAt - spawnedAt }),
    total
  }
}

/** Runs `options.heals` rounds of each fault on a fresh five-node cluster; returns bench rows and raw samples. */
export async function measureHeals (options: HealOptions, log: (line: string) => void = () => {}): Promise<{ rows: BenchRow[], samples: HealSample[] }> {
  const cluster = new SwarmCluster(undefined, logEnv(options), 180_000)
  const samples: HealSample[] = []
  try {
    await cluster.grow(5)
    // The namespace exists everywhere before the first fault: a round measures healing, not creation.
    const [first] = cluster.members as [ClusterMember]
    if (!await put(first, 'created')) throw new Error('could not create the heal namespace')
    let held = await pollFor('the heal namespace reaches every node', async () => {
      const counts = await Promise.all(cluster.members.map(entriesOn))
      return counts.every((count) => count === 1) ? 1 : undefined
    }, 30_000)
    for (const fault of options.faults) {
      for (let i = 0; i < options.heals; i++) {
        const victim = cluster.members[i % cluster.members.length] as ClusterMember
        const sample = await healRound(cluster, fault, victim, `${fault}${i}`, held, options)
        held = sample.total
        const { total: _total, ...kept } = sample
        samples.push(kept)
        log(`  ${fault} ${i + 1}/${options.heals}: ${sample.writes} writes during the fault, converged ${sample.convergeMs.toFixed(0)} ms after the heal${sample.fromSpawnMs === undefined ? '' : ` (${sample.fromSpawnMs.toFixed(0)} ms from spawn)`}\n`)
      }
    }
  } finally {
    await cluster.cleanup()
  }
  return { rows: healRows(samples, options), samples }
}

function logEnv (options: HealOptions): NodeJS.ProcessEnv {
  return options.nodeLog === undefined ? {} : { PEERFLOW_LOG_LEVEL: options.nodeLog }
}

/** The nodes' log lines between the heal and convergence, each stamped with ms since the heal: where the time went. */
function printNodeLog (members: ClusterMember[], victim: ClusterMember, healedAt: number, convergedAt: number): void {
  const lines = members.flatMap((member, index) => member.process.output().split('\n').flatMap((line) => {
    try {
      const record = JSON.parse(line) as { time: number, msg: string, [field: string]: unknown }
      if (record.time < healedAt - 500 || record.time > convergedAt + 100) return []
      const { time, msg, level: _level, pid: _pid, hostname: _hostname, ...fields } = record
      const who = member === victim ? `node ${index} (faulted)` : `node ${index}`
      return [{ time, text: `${(time - healedAt).toFixed(0).padStart(6)} ms  ${who}: ${msg} ${JSON.stringify(fields)}` }]
    } catch {
      return []
    }
  }))
  for (const line of lines.sort((a, b) => a.time - b.time)) process.stdout.write(`    ${line.text}\n`)
}

const LABELS: Record<HealFault, string> = { none: 'no fault', block: 'block/unblock', pause: 'SIGSTOP/SIGCONT', kill: 'SIGKILL/restart' }
const GOAL_MS = 2_000

export function healRows (samples: HealSample[], options: HealOptions): BenchRow[] {
  const faultS = (options.faultMs / 1000).toFixed(0)
  const baselineSamples = samples.filter((sample) => sample.fault === 'none').map((sample) => sample.convergeMs)
  const baseline = baselineSamples.length === 0 ? undefined : median(baselineSamples)
  const rows: BenchRow[] = baseline === undefined
    ? []
    : [{ metric: `baseline for heal: all hold the last writes, no fault (5 processes, ${faultS} s of writes) median`, value: baseline, unit: 'ms' }]
  for (const fault of ['block', 'pause', 'kill'] as const) {
    const of = samples.filter((sample) => sample.fault === fault)
    if (of.length === 0) continue
    const converge = of.map((sample) => sample.convergeMs)
    const worst = Math.max(...converge)
    const label = `convergence after heal, ${LABELS[fault]} (5 processes, ${faultS} s faults, ${of.length} heals)`
    rows.push(
      { metric: `${label} median`, value: median(converge), unit: 'ms', goal: `<= ${GOAL_MS} ms`, met: median(converge) <= GOAL_MS },
      { metric: `${label} worst`, value: worst, unit: 'ms', goal: `<= ${GOAL_MS} ms`, met: worst <= GOAL_MS }
    )
    if (baseline !== undefined) rows.push({ metric: `convergence after heal, ${LABELS[fault]} median / no-fault baseline`, value: median(converge) / baseline, unit: 'x' })
    const fromSpawn = of.flatMap((sample) => sample.fromSpawnMs === undefined ? [] : [sample.fromSpawnMs])
    if (fromSpawn.length > 0) {
      rows.push({ metric: `convergence after heal, ${LABELS[fault]}, from spawning the process, median`, value: median(fromSpawn), unit: 'ms' })
    }
  }
  return rows
}
