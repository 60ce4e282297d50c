import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { STAND_IN_MODEL_ID } from './fixtures/stand-in-model.ts'
import type { RecordedRequest } from './fixtures/anthropic-server.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { TestNetwork, waitFor } from './helpers/nodes.ts'
import { startTaskSwarm, waitForFinished } from './helpers/task-swarm.ts'

/** Loop tasks on a real 2-node swarm against the local stand-in model. */

const serve = modelServersPerTest()
const net = new TestNetwork()

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => { await net.cleanup() })

/** The first user message of a recorded model request (the iteration's prompt). */
function promptOf (request: RecordedRequest): string {
  const content = (request.body as { messages: Array<{ content: unknown }> }).messages[0]?.content
  return typeof content === 'string' ? content : JSON.stringify(content)
}

const LOOP = { maxIterations: 3, iterationTimeoutMs: 30_000 }

describe('loop tasks', () => {
  it('runs to --max-iterations: done, stopReason max-iterations, each iteration fed the PRD and the previous checkpoint', async () => {
    const server = await serve()
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url })
    const [a, b] = nodes as [PeerflowNode, PeerflowNode]
    const submitted = await a.tasks.submit({ swarm: 'work', prompt: 'Port module x to the new API', role: 'coder', loop: { ...LOOP, prd: 'PRD: every module ported' } })
    expect(submitted.loop).toMatchObject({ maxIterations: 3, prd: 'PRD: every module ported', budgetUsd: null })
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report).toMatchObject({ state: 'done', stopReason: 'max-iterations', iterations: 3 })
    expect(report?.loop?.iterationLog.map((it) => it.iteration)).toEqual([1, 2, 3])
    for (const it of report?.loop?.iterationLog ?? []) {
      expect(it.checkpoint).toContain(`iteration ${it.iteration} done`)
      expect(it.repeatOf).toBeNull()
      expect(it.worker).toBe(report?.assignee)
    }
    expect(report?.result).toContain('iteration 3 done')
    const firstTurns = server.requests.map(promptOf).filter((prompt, i, all) => all.indexOf(prompt) === i)
    expect(firstTurns).toHaveLength(3)
    expect(firstTurns[0]).toContain('PRD: every module ported')
    expect(firstTurns[0]).toContain('This is the first iteration')
    expect(firstTurns[1]).toContain('Checkpoint left by iteration 1:')
    expect(firstTurns[1]).toContain('iteration 1 done')
    expect(firstTurns[2]).toContain('iteration 2 done')
    // Every node shows the same iterations.
    await waitFor('iterations replicated', () => b.tasks.show(submitted.id).iterations === 3)
    expect(b.tasks.show(submitted.id).loop?.iterationLog).toEqual(report?.loop?.iterationLog)
    const metrics = await (await fetch(`http://${b.apiAddress}/metrics`)).text()
    expect(metrics).toMatch(/^peerflow_loop_iterations 3$/m)
  })

  it('stops when the agent calls complete', async () => {
    const server = await serve()
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url })
    const submitted = await (nodes[0] as PeerflowNode).tasks.submit({
      swarm: 'work', prompt: 'Write the changelog', role: 'coder', loop: { maxIterations: 10, iterationTimeoutMs: 30_000, prd: 'The work is complete after iteration 2.' }
    })
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report).toMatchObject({ state: 'done', stopReason: 'completed', iterations: 2 })
    expect(report?.loop?.iterationLog.map((it) => it.complete)).toEqual([false, true])
    expect(report?.result).toContain('finished the work in iteration 2')
  })

  it('stops at --budget-usd: failed with the cap named, spend over the cap by at most one call', async () => {
    const server = await serve()
    // A price for the stand-in, so that its usage costs something.
    const prices = { [STAND_IN_MODEL_ID]: { inputPerMTok: 100, outputPerMTok: 100 } }
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url, agents: { prices } })
    const submitted = await (nodes[0] as PeerflowNode).tasks.submit({
      swarm: 'work', prompt: 'Refactor everything', role: 'coder', loop: { maxIterations: 50, iterationTimeoutMs: 30_000, budgetUsd: 0.5 }
    })
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report).toMatchObject({ state: 'failed', stopReason: 'budget' })
    expect(report?.error).toMatch(/budget exceeded/)
    expect(server.requests.length).toBeGreaterThan(2)
    const spent = report?.loop?.spentUsd ?? 0
    expect(spent).toBeGreaterThanOrEqual(0.5)
    // The bound: one call's input tokens past the cap (a stand-in call here is well under 2k tokens: $0.20).
    expect(spent).toBeLessThan(0.5 + 0.2)
    expect(report?.iterations).toBeLessThan(50)
  })

  it("stops at the node's own daily cap (agents.dailyBudgetUsd), naming it", async () => {
    const server = await serve()
    const prices = { [STAND_IN_MODEL_ID]: { inputPerMTok: 100, outputPerMTok: 100 } }
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url, agents: { prices, dailyBudgetUsd: 0.3 } })
    const submitted = await (nodes[0] as PeerflowNode).tasks.submit({ swarm: 'work', prompt: 'Refactor everything', role: 'coder', loop: { maxIterations: 50, iterationTimeoutMs: 30_000 } })
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report).toMatchObject({ state: 'failed', stopReason: 'budget' })
    expect(report?.error).toContain("this node's daily spend cap of $0.3 is spent")
    const worker = nodes.find((node) => node.peerId === report?.assignee) as PeerflowNode
    const spent = worker.tasks.budget().nodes.find((entry) => entry.peer === worker.peerId)
    expect(spent?.capUsd).toBe(0.3)
    expect(spent?.spentUsd).toBeGreaterThanOrEqual(0.3)
    expect(spent?.spentUsd).toBeLessThan(0.3 + 0.2)
  })

  it('a plain task with a USD budget stops at it, over all its attempts', async () => {
    const server = await serve()
    const prices = { [STAND_IN_MODEL_ID]: { inputPerMTok: 100, outputPerMTok: 100 } }
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url, agents: { prices } })
    // Asked to remember, the stand-in uses a tool first: two calls, and the first already spends the cap.
    const submitted = await (nodes[0] as PeerflowNode).tasks.submit({ swarm: 'work', prompt: 'Remember that the build uses vitest', role: 'coder', budget: { maxCostUsd: 0.01 } })
    expect(submitted.budgetUsd).toBe(0.01)
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report).toMatchObject({ state: 'failed', attempts: 1 })
    expect(report?.error).toMatch(/^budget exceeded: spend cap \$0\.0100/)
    expect(server.requests).toHaveLength(1)
  })

  it('an iteration past its --iteration-timeout is tried again, not taken for the budget', async () => {
    const server = await serve()
    // The first call hangs past the 1 s iteration timeout; everything after answers at once.
    server.script({ kind: 'stand_in', latencyMs: 3_000 })
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url })
    const submitted = await (nodes[0] as PeerflowNode).tasks.submit({ swarm: 'work', prompt: 'Slow start', role: 'coder', loop: { maxIterations: 2, iterationTimeoutMs: 1_000 } })
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report).toMatchObject({ state: 'done', stopReason: 'max-iterations', iterations: 2, attempts: 1 })
  })

  it('stops after repeated failures', async () => {
    const server = await serve()
    server.script({ kind: 'not_found', times: Number.POSITIVE_INFINITY })
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url })
    const submitted = await (nodes[0] as PeerflowNode).tasks.submit({ swarm: 'work', prompt: 'Anything', role: 'coder', loop: LOOP })
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report).toMatchObject({ state: 'failed', stopReason: 'repeated-failures', iterations: 0 })
    expect(report?.error).toMatch(/iteration 1 failed 3 times in a row/)
    expect(report?.attempts).toBe(1)
  })

  it('a cancelled loop stops between or during iterations', async () => {
    const server = await serve({ latencyMs: 200 })
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url })
    const a = nodes[0] as PeerflowNode
    const submitted = await a.tasks.submit({ swarm: 'work', prompt: 'Long job', role: 'coder', loop: { maxIterations: 100, iterationTimeoutMs: 30_000 } })
    await waitFor('two iterations recorded', () => a.tasks.show(submitted.id).iterations >= 2, 20_000, 50)
    await a.tasks.cancel(submitted.id)
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report?.state).toBe('cancelled')
    const calls = server.requests.length
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(server.requests.length).toBeLessThanOrEqual(calls + 1)
    expect(report?.iterations).toBeLessThan(100)
  })

  it('refuses a bad loop at submit', async () => {
    const server = await serve()
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url })
    const a = nodes[0] as PeerflowNode
    await expect(a.tasks.submit({ swarm: 'work', prompt: 'x', role: 'coder', loop: { ...LOOP, budgetUsd: -1 } })).rejects.toThrow(/invalid loop: budgetUsd/)
    await expect(a.tasks.submit({ swarm: 'work', prompt: 'x', role: 'coder', loop: { ...LOOP, maxIterations: 0 } })).rejects.toThrow(/invalid loop: maxIterations/)
    await expect(a.tasks.submit({ swarm: 'work', prompt: 'x', stages: ['planner', 'coder'], loop: LOOP })).rejects.toThrow(/one stage/)
  })
})
