import { describe, expect, it } from 'vitest'
import { HEALTHY_NETWORK, RaftSim, type SimOptions } from './helpers/raft-sim.ts'

const MIN_TIMEOUT_MS = 150
const MAX_TIMEOUT_MS = 300
/** After the network heals, a leader everyone agrees on must appear within this. */
const LIVENESS_MS = 10 * MAX_TIMEOUT_MS
const FAULTS_PER_RUN = 40

interface ChaosResult { recoveryMs: number, events: number, leaders: number, violations: string[] }

/**
 * ~20 s of virtual time with a random fault (partition, heal, crash, restart, lossy, duplicating or
 * slow network) every 50–850 ms, then a full heal: safety must hold throughout, and a leader must
 * emerge and stay.
 */
function chaosRun (options: SimOptions): ChaosResult {
  const sim = new RaftSim(options)
  for (let fault = 0; fault < FAULTS_PER_RUN; fault++) {
    sim.disturb()
    sim.runFor(50 + sim.prng.next() * 800)
  }
  sim.recover()
  // A leader from before the heal whose acks the faults dropped steps down (CheckQuorum) within
  // the minimum election timeout: stability is asked of the leadership that follows.
  sim.runFor(MIN_TIMEOUT_MS)
  const { leader, elapsedMs: sinceSettled } = sim.awaitLeader(LIVENESS_MS - MIN_TIMEOUT_MS)
  const elapsedMs = sinceSettled + MIN_TIMEOUT_MS
  const term = sim.election(leader).term
  sim.runFor(2_000)
  if (sim.agreedLeader() !== leader || sim.election(leader).term !== term) {
    sim.violations.push(`leadership changed on a healthy network after ${leader}@${term}`)
  }
  return { recoveryMs: elapsedMs, events: sim.eventsProcessed, leaders: sim.leadersByTerm.size, violations: sim.violations }
}

function percentile (sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN
}

describe('raft election: deterministic simulation', () => {
  it('replays a seed exactly', () => {
    const trace = (): string => {
      const sim = new RaftSim({ seed: 99, size: 5 })
      for (let fault = 0; fault < 10; fault++) {
        sim.disturb()
        sim.runFor(300)
      }
      return JSON.stringify([sim.eventsProcessed, [...sim.leadersByTerm], sim.ids.map((id) => sim.persisted(id))])
    }
    expect(trace()).toBe(trace())
  })

  it.each([
    { name: '3 voters', size: 3, seeds: 400 },
    { name: '5 voters', size: 5, seeds: 250 },
    { name: '7 voters', size: 7, seeds: 60 },
    { name: '5 voters without PreVote and CheckQuorum', size: 5, seeds: 60, preVote: false, checkQuorum: false }
  ])('$name, $seeds seeds of random faults: one leader per term, and an agreed leader within 10 timeouts of healing', ({ name, size, seeds, ...flags }) => {
    const recoveries: number[] = []
    let events = 0
    let leaders = 0
    for (let seed = 1; seed <= seeds; seed++) {
      const result = chaosRun({ seed, size, ...flags })
      expect(result.violations, `seed ${seed}`).toEqual([])
      recoveries.push(result.recoveryMs)
      events += result.events
      leaders += result.leaders
    }
    recoveries.sort((a, b) => a - b)
    expect(events / seeds).toBeGreaterThan(1_000)
    expect(leaders / seeds).toBeGreaterThan(2)
    console.log(`[raft-sim] ${name}: ${seeds} seeds, ${Math.round(events / seeds)} events and ` +
      `${(leaders / seeds).toFixed(1)} terms with a leader per run; recovery after heal median ${percentile(recoveries, 0.5).toFixed(0)} ms, ` +
      `max ${percentile(recoveries, 1).toFixed(0)} ms (bound ${LIVENESS_MS} ms)`)
  })

  it.each([3, 5])('fails over within about one election timeout after a leader crash (%i voters, 150–300 ms timeouts, ~1 ms delay)', (size) => {
    const elected: number[] = []
    const agreed: number[] = []
    for (let trial = 1; trial <= 200; trial++) {
      const sim = new RaftSim({ seed: 10_000 + trial, size, network: HEALTHY_NETWORK })
      sim.awaitLeader(LIVENESS_MS)
      // Crash at a random point of the heartbeat cycle.
      sim.runFor(200 + sim.prng.next() * 1_000)
      const old = sim.agreedLeader() ?? ''
      sim.crash(old)
      const electedMs = sim.runUntil(() => sim.liveIds().some((id) => sim.election(id).role === 'leader'), LIVENESS_MS)
      expect(electedMs, `trial ${trial}`).not.toBeNull()
      elected.push(electedMs ?? Infinity)
      agreed.push(sim.awaitLeader(LIVENESS_MS).elapsedMs + (electedMs ?? 0))
      expect(sim.violations).toEqual([])
    }
    elected.sort((a, b) => a - b)
    agreed.sort((a, b) => a - b)
    const median = percentile(elected, 0.5)
    console.log(`[raft-sim] failover, ${size} voters, 200 crashes: new leader median ${median.toFixed(0)} ms, ` +
      `p95 ${percentile(elected, 0.95).toFixed(0)} ms, max ${percentile(elected, 1).toFixed(0)} ms; ` +
      `all live nodes agree: median ${percentile(agreed, 0.5).toFixed(0)} ms, max ${percentile(agreed, 1).toFixed(0)} ms`)
    // Followers time out 150–300 ms after the last heartbeat, which was up to 50 ms before the crash.
    expect(median).toBeGreaterThan(100)
    expect(median).toBeLessThan(MAX_TIMEOUT_MS)
    expect(percentile(elected, 1)).toBeLessThan(3 * MAX_TIMEOUT_MS)
  })

  it('settles a failover when votes travel slower than the retry window (5 voters, 50–150 ms one-way delays, default timeouts)', () => {
    const terms: number[] = []
    for (let trial = 1; trial <= 30; trial++) {
      const sim = new RaftSim({ seed: 20_000 + trial, size: 5, network: { minDelayMs: 50, maxDelayMs: 150, lossRate: 0, duplicateRate: 0 } })
      sim.awaitLeader(30_000)
      sim.runFor(200 + sim.prng.next() * 1_000)
      const old = sim.agreedLeader() ?? sim.awaitLeader(30_000).leader
      const before = sim.election(old).term
      sim.crash(old)
      // Without a backoff of the retry window most of these found no leader within 30 s.
      const { leader } = sim.awaitLeader(10_000)
      terms.push(sim.election(leader).term - before)
      expect(sim.violations, `trial ${trial}`).toEqual([])
    }
    terms.sort((a, b) => a - b)
    console.log(`[raft-sim] failover with 50–150 ms delays, 30 crashes: terms used median ${percentile(terms, 0.5)}, max ${percentile(terms, 1)}`)
    expect(percentile(terms, 0.5)).toBeLessThanOrEqual(5)
  })
})
