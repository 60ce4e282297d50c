import { afterAll, describe, expect, it } from 'vitest'
import { kill, pause, restart, resume, setPartition } from './helpers/faults.ts'
import { createPrng, type Prng } from './helpers/prng.ts'
import { apiCall, pollFor, swarmEventsOf, swarmStatusOf, SwarmCluster, type ClusterMember } from './helpers/swarm-cluster.ts'

/**
 * Five node processes, a writer on every node, and a seeded nemesis that kills, pauses or
 * partitions a minority (one or two nodes) at a time, healing each fault before the next. Once all
 * is healed: every acknowledged write is on every node, the nodes agree on every key (including the
 * keys all writers kept overwriting), and no election term ever had two leaders.
 *
 * Faults last 3 s here to keep the suite fast; the 60 s faults are
 * PEERFLOW_CHAOS_FAULT_MS=60000 (with PEERFLOW_CHAOS_ROUNDS for more rounds). A failure names its
 * seed; PEERFLOW_CHAOS_SEED=<seed> replays the same faults on the same nodes.
 */
const SEED = Number(process.env.PEERFLOW_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const ROUNDS = Number(process.env.PEERFLOW_CHAOS_ROUNDS ?? 5)
const FAULT_MS = Number(process.env.PEERFLOW_CHAOS_FAULT_MS ?? 3_000)
const SETTLE_MS = 1_000
/**
 * After the last heal. Generous for a loaded 2-core machine, where a node's event loop can stall
 * for seconds: how fast healing is belongs to `npm run bench:heal`, what it preserves to this test.
 */
const CONVERGE_MS = 30_000
const NS = 'chaos'
const SWARM = 'chaos'
const HOT_KEYS = 4
/** Slower than the paper's timing: on 2 shared cores a CPU burst must not pass for a leader failure (see swarm-election.test.ts). */
const cluster = new SwarmCluster({ timeoutMinMs: 300, timeoutMaxMs: 600, heartbeatMs: 60 }, {}, 180_000)

/** Running loops, stopped in afterAll also when the test failed half-way. */
const loops: Array<{ stop: () => Promise<void> }> = []

afterAll(async () => {
  for (const member of cluster.members) resume(member)
  await Promise.all(loops.splice(0).map(async (loop) => { await loop.stop() }))
  await cluster.cleanup()
})

type Fault = 'kill' | 'pause' | 'partition'

interface Entry { key: string, value: unknown }

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** One writer per node: unique keys (each acknowledged one must survive) and a few keys every writer overwrites. */
class Writers {
  readonly acknowledged = new Set<string>()
  #running = true
  readonly #loops: Array<Promise<void>>

  constructor (members: ClusterMember[]) {
    this.#loops = members.map(async (member, index) => {
      for (let seq = 0; this.#running; seq++) {
        const key = seq % 3 === 2 ? `hot-${seq % HOT_KEYS}` : `n${index}-${seq}`
        try {
          // Sent to whichever process is the member now (a restart replaces it).
          const reply = await apiCall(member.api, 'POST', `/memory/${NS}`, { key, value: { writer: index, seq } }, 1_000)
          if (reply.status === 200 && !key.startsWith('hot-')) this.acknowledged.add(key)
        } catch {
          // The node is paused, killed or restarting: this write was not acknowledged.
        }
        await sleep(40)
      }
    })
  }

  async stop (): Promise<void> {
    this.#running = false
    await Promise.all(this.#loops)
  }
}

/** Polls every node's view of the swarm and records, per term, each leader any node reported for it. */
class LeaderLog {
  readonly leadersByTerm = new Map<number, Set<string>>()
  #running = true
  readonly #loop: Promise<void>

  constructor (members: ClusterMember[]) {
    this.#loop = (async () => {
      while (this.#running) {
        await Promise.all(members.map(async (member) => {
          const status = await swarmStatusOf(member.api, SWARM, 500)
          if (status?.leader !== null && status?.leader !== undefined) this.record(status.term, status.leader)
        }))
        await sleep(50)
      }
    })()
  }

  record (term: number, leader: string): void {
    const leaders = this.leadersByTerm.get(term) ?? new Set<string>()
    leaders.add(leader)
    this.leadersByTerm.set(term, leaders)
  }

  /** Adds the leader changes a node logged (its whole history since it started). */
  async collectEvents (member: ClusterMember): Promise<void> {
    const events = await swarmEventsOf(member.api, SWARM).catch(() => [])
    for (const event of events) {
      if (event.type === 'leader-changed' && event.leader !== null && event.leader !== undefined && event.term !== undefined) this.record(event.term, event.leader)
    }
  }

  async stop (): Promise<void> {
    this.#running = false
    await this.#loop
  }

  termsWithTwoLeaders (): string[] {
    return [...this.leadersByTerm].filter(([, leaders]) => leaders.size > 1).map(([term, leaders]) => `term ${term}: ${[...leaders].join(', ')}`)
  }
}

/** A minority: one or two of the five nodes. */
function pickMinority (prng: Prng, members: ClusterMember[]): ClusterMember[] {
  const first = prng.pick(members)
  if (prng.next() < 0.5) return [first]
  return [first, prng.pick(members.filter((member) => member !== first))]
}

async function entriesOf (member: ClusterMember): Promise<Map<string, string>> {
  const reply = await apiCall<{ entries?: Entry[] }>(member.api, 'GET', `/memory/${NS}`, undefined, 5_000)
  return new Map((reply.body.entries ?? []).map((entry) => [entry.key, JSON.stringify(entry.value)]))
}

async function runFault (fault: Fault, minority: ClusterMember[], leaders: LeaderLog): Promise<void> {
  const majority = cluster.members.filter((member) => !minority.includes(member))
  if (fault === 'partition') {
    await setPartition('block', minority, majority)
    await sleep(FAULT_MS)
    await setPartition('unblock', minority, majority)
  } else if (fault === 'pause') {
    for (const member of minority) pause(member)
    await sleep(FAULT_MS)
    for (const member of minority) resume(member)
  } else {
    // A killed node's event log dies with it: keep the leaders it saw.
    await Promise.all(minority.map(async (member) => { await leaders.collectEvents(member) }))
    await Promise.all(minority.map(kill))
    await sleep(FAULT_MS)
    await Promise.all(minority.map(async (member) => { await restart(member) }))
  }
}

const TEST_TIMEOUT_MS = 300_000 + ROUNDS * (FAULT_MS + SETTLE_MS + 15_000)

describe('replicated memory under a nemesis', () => {
  it('loses no acknowledged write, agrees on every key and never has two leaders in a term', async () => {
    const prng = createPrng(SEED)
    const faults: string[] = []
    let stage = 'starting five nodes'
    // Fails before the test timeout, so that a hang is reported with its seed and where it hung.
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`still ${stage} after ${TEST_TIMEOUT_MS - 10_000} ms`)) }, TEST_TIMEOUT_MS - 10_000)
    })
    try {
      await Promise.race([deadline, run()])
    } catch (err) {
      throw new Error(`chaos run failed with PEERFLOW_CHAOS_SEED=${SEED} (faults: ${faults.join(', ')}): ${(err as Error).message}`, { cause: err })
    } finally {
      clearTimeout(timer)
    }

    async function run (): Promise<void> {
      await cluster.grow(5)
      stage = 'forming the swarm'
      await cluster.formSwarm(SWARM)
      const leaders = new LeaderLog(cluster.members)
      const writers = new Writers(cluster.members)
      loops.push(leaders, writers)

      for (let round = 0; round < ROUNDS; round++) {
        const fault = prng.pick(['kill', 'pause', 'partition'] as const)
        const minority = pickMinority(prng, cluster.members)
        faults.push(`${fault} ${minority.map((member) => cluster.members.indexOf(member)).join('+')}`)
        stage = `in fault ${faults.at(-1) ?? ''}`
        await runFault(fault, minority, leaders)
        await sleep(SETTLE_MS)
      }
      await writers.stop()
      expect(writers.acknowledged.size).toBeGreaterThan(ROUNDS * 20)

      stage = 'waiting for convergence'
      const expected = [...writers.acknowledged]
      const views = await pollFor('every node to hold every acknowledged write and the same value for every key', async () => {
        const all = await Promise.all(cluster.members.map(entriesOf))
        const complete = all.every((entries) => expected.every((key) => entries.has(key)))
        const same = all.every((entries) => JSON.stringify([...entries].sort()) === JSON.stringify([...(all[0] ?? new Map())].sort()))
        return complete && same ? all : undefined
      }, CONVERGE_MS, 100)
      for (let hot = 0; hot < HOT_KEYS; hot++) expect(views[0]?.has(`hot-${hot}`)).toBe(true)

      // Liveness after the faults: the members settle on one leader again.
      stage = 'waiting for one agreed leader'
      await cluster.waitForAgreement(SWARM, cluster.members, 15_000)
      await leaders.stop()
      await Promise.all(cluster.members.map(async (member) => { await leaders.collectEvents(member) }))
      expect(leaders.leadersByTerm.size).toBeGreaterThan(0)
      expect(leaders.termsWithTwoLeaders()).toEqual([])
    }
  }, TEST_TIMEOUT_MS)
})
