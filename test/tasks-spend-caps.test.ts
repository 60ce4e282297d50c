import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import type { TaskReport } from '../src/swarm/tasks/task-report.ts'
import { STAND_IN_MODEL_ID } from './fixtures/stand-in-model.ts'
import { runCli } from './helpers/cli.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { quicAddr, TestNetwork, waitFor } from './helpers/nodes.ts'
import { leaderOf, startTaskSwarm, waitForFinished } from './helpers/task-swarm.ts'

/**
 * A swarm's daily cap spent by 3 workers at once, with and without a partition: the leader hands out
 * allotments and no worker spends past what it holds, so the swarm never exceeds the cap by more
 * than one call's input cost per running attempt.
 */

const serve = modelServersPerTest()
const net = new TestNetwork()

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => { await net.cleanup() })

// The stand-in priced at $10 per million tokens either way: one call (well under 2,000 tokens) costs under $0.02.
const PRICES = { [STAND_IN_MODEL_ID]: { inputPerMTok: 10, outputPerMTok: 10 } }
const CAP_USD = 0.6
const WORKERS = 3
const AGENTS_PER_WORKER = 2
/** The stated bound: one call's input cost per running attempt (2,000 tokens at $10/M = $0.02, generous). */
const BOUND_USD = WORKERS * AGENTS_PER_WORKER * 0.02

async function spendTheCap (nodes: PeerflowNode[]): Promise<string[]> {
  const a = nodes[0] as PeerflowNode
  const ids: string[] = []
  for (let i = 0; i < WORKERS * AGENTS_PER_WORKER; i++) {
    ids.push((await a.tasks.submit({ swarm: 'work', prompt: `job ${i}: keep improving module ${i}`, role: 'coder', loop: { maxIterations: 200, iterationTimeoutMs: 30_000 } })).id)
  }
  return ids
}

function totalSpend (reports: TaskReport[]): number {
  return reports.reduce((sum, report) => sum + (report.loop?.spentUsd ?? 0), 0)
}

describe('swarm spend caps', () => {
  it('3 workers spending at once stop at the swarm cap, never past it by more than the bound', async () => {
    const server = await serve({ latencyMs: 20 })
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', baseUrl: server.url, agents: { prices: PRICES, maxConcurrent: AGENTS_PER_WORKER } })
    const set = await runCli(['budget', 'set', '--swarm', 'work', '--daily-usd', String(CAP_USD), '--api', (nodes[1] as PeerflowNode).apiAddress])
    expect(set.code, set.stderr).toBe(0)
    await waitFor('the cap known everywhere', () => nodes.every((node) => node.tasks.budget().swarms[0]?.effectiveCapUsd === CAP_USD))
    const ids = await spendTheCap(nodes)
    const reports = await waitForFinished(nodes, ids, 120_000)
    const workers = new Set(reports.flatMap((report) => report.attemptLog.flatMap((attempt) => attempt.worker ?? [])))
    expect(workers.size).toBe(WORKERS)
    for (const report of reports) {
      expect(report).toMatchObject({ state: 'failed', stopReason: 'budget' })
      expect(report.error).toContain(`the daily spend cap of $${CAP_USD} for swarm 'work' is spent`)
    }
    const spent = totalSpend(reports)
    process.stdout.write(`swarm cap $${CAP_USD}: spent $${spent.toFixed(4)} over ${server.requests.length} calls by ${workers.size} workers\n`)
    expect(spent).toBeGreaterThan(CAP_USD * 0.7)
    expect(spent).toBeLessThanOrEqual(CAP_USD + BOUND_USD)
    const shown = await runCli(['budget', 'show', '--json', '--api', (nodes[2] as PeerflowNode).apiAddress])
    const report = JSON.parse(shown.stdout) as { swarms: Array<{ name: string, spentUsd: number, capUsd: number }> }
    expect(report.swarms[0]).toMatchObject({ name: 'work', capUsd: CAP_USD })
    expect(report.swarms[0]?.spentUsd).toBeCloseTo(spent, 6)
    const metrics = await (await fetch(`http://${(nodes[2] as PeerflowNode).apiAddress}/metrics`)).text()
    expect(metrics).toMatch(new RegExp(`^peerflow_spend_cap_usd\\{swarm="work"\\} ${CAP_USD}$`, 'm'))
    const human = await runCli(['budget', 'show', '--api', (nodes[0] as PeerflowNode).apiAddress])
    expect(human.stdout).toMatch(/^work +\$0\.\d{4} +\$0\.\d{4} +\$0\.6000 +\$0\.6000$/m)
    const negative = await runCli(['budget', 'set', '--swarm', 'work', '--daily-usd', '-5', '--api', (nodes[0] as PeerflowNode).apiAddress])
    expect(negative.code).toBe(2)
    expect(negative.stderr).toContain('--daily-usd: expected an amount in USD of 0 or more')
  }, 180_000)

  it('a worker cut off mid-run stops when its allotment runs out; the swarm still stays within the bound', async () => {
    const server = await serve({ latencyMs: 300 })
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', baseUrl: server.url, agents: { prices: PRICES, maxConcurrent: AGENTS_PER_WORKER } })
    await (nodes[0] as PeerflowNode).tasks.setBudget({ scope: 'swarm', swarm: 'work' }, CAP_USD)
    await waitFor('the cap known everywhere', () => nodes.every((node) => node.tasks.budget().swarms[0]?.effectiveCapUsd === CAP_USD))
    const ids = await spendTheCap(nodes)
    const leader = leaderOf(nodes)
    const cutOff = nodes.find((node) => node !== leader) as PeerflowNode
    const others = nodes.filter((node) => node !== cutOff)
    await waitFor('the cut-off worker spending', () => cutOff.tasks.agents().some((agent) => agent.state === 'running' && agent.costUsd > 0), 30_000)
    await Promise.all([...others.map(async (node) => { await node.block(cutOff.peerId) }), ...others.map(async (node) => { await cutOff.block(node.peerId) })])
    await new Promise((resolve) => setTimeout(resolve, 4_000))
    for (const node of others) {
      node.unblock(cutOff.peerId)
      cutOff.unblock(node.peerId)
    }
    await Promise.all(others.map(async (node) => { await node.join(multiaddr(quicAddr(cutOff)), new AbortController().signal) }))
    const reports = await waitForFinished(nodes, ids, 120_000)
    // Every node agrees once healed; the cut-off worker's spend counts too.
    await waitFor('spend converged', () => {
      const totals = nodes.map((node) => totalSpend(ids.map((id) => node.tasks.show(id))))
      return totals.every((total) => Math.abs(total - (totals[0] as number)) < 1e-9)
    }, 60_000, 100)
    const spent = totalSpend(ids.map((id) => leader.tasks.show(id)))
    process.stdout.write(`swarm cap $${CAP_USD} with a partition: spent $${spent.toFixed(4)}\n`)
    expect(spent).toBeLessThanOrEqual(CAP_USD + BOUND_USD)
    for (const report of reports) expect(['failed', 'done']).toContain(report.state)
    // The cut-off worker ran out of allotment (it could not reach the leader) or lost its attempts to others.
    const itsAttempts = reports.flatMap((report) => report.attemptLog.filter((attempt) => attempt.worker === cutOff.peerId))
    expect(itsAttempts.some((attempt) => /no spend allotment/.test(attempt.error ?? '') || attempt.status === 'running' || attempt.status === 'assigned')).toBe(true)
  }, 180_000)
})
