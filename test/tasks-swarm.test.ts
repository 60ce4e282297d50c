import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { swarmNamespace } from '../crdt/index.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import type { TaskReport } from '../src/swarm/tasks/task-report.ts'
import type { AnthropicServer, RecordedRequest } from './fixtures/anthropic-server.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { TestNetwork, waitFor } from './helpers/nodes.ts'
import { leaderOf, startTaskSwarm, waitForFinished } from './helpers/task-swarm.ts'

const serve = modelServersPerTest()
const net = new TestNetwork()

beforeAll(() => {
  // Each node gets its endpoint from its config here; a developer's own settings must not leak in.
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => { await net.cleanup() })

async function submitMany (nodes: PeerflowNode[], count: number, fields: { role?: string, stages?: string[] } = { role: 'coder' }): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const node = nodes[i % nodes.length] as PeerflowNode
    ids.push((await node.tasks.submit({ swarm: 'work', prompt: `job ${i}: summarise module ${i}`, ...fields })).id)
  }
  return ids
}

/** The first user message of a recorded model request (where the task prompt goes). */
function promptOf (request: RecordedRequest): string {
  const content = (request.body as { messages: Array<{ content: unknown }> }).messages[0]?.content
  return typeof content === 'string' ? content : JSON.stringify(content)
}

/** Samples, while `until` is pending, the most agents each node ran at once. */
function peakConcurrency (nodes: PeerflowNode[], until: Promise<unknown>): Promise<Map<string, number>> {
  const peaks = new Map<string, number>()
  let finished = false
  void until.finally(() => { finished = true })
  return new Promise((resolve) => {
    const sample = (): void => {
      for (const node of nodes) {
        const running = node.tasks.agents().filter((agent) => agent.state === 'running').length
        peaks.set(node.peerId, Math.max(peaks.get(node.peerId) ?? 0, running))
      }
      if (finished) resolve(peaks)
      else setTimeout(sample, 5)
    }
    sample()
  })
}

function workersOf (reports: TaskReport[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const report of reports) counts.set(report.assignee ?? '-', (counts.get(report.assignee ?? '-') ?? 0) + 1)
  return counts
}

describe('tasks across a 3-node swarm', () => {
  it('hierarchical: 30 tasks spread over every node, each done once, results visible on every node', async () => {
    const server = await serve({ latencyMs: 40 })
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', baseUrl: server.url })
    const leaderOfTerm = new Map([[leaderOf(nodes).swarms.member('work')?.term ?? 0, leaderOf(nodes).peerId]])
    for (const node of nodes) {
      node.swarms.events.subscribe((event) => { if (event.type === 'leader-changed' && event.leader !== null) leaderOfTerm.set(event.term, event.leader) })
    }
    const ids = await submitMany(nodes, 30)
    const finished = waitForFinished(nodes, ids)
    const peaks = await peakConcurrency(nodes, finished)
    const reports = await finished

    expect(reports.map((report) => report.state)).toEqual(ids.map(() => 'done'))
    for (const report of reports) {
      // One accepted result. A second attempt only ever replaces one its worker never took up (a
      // deposed leader's assignment, ignored as stale), so nothing ran twice.
      expect(report.attemptLog.filter((attempt) => attempt.status === 'done')).toHaveLength(1)
      expect(report.attemptLog.slice(0, -1).every((attempt) => attempt.status === 'assigned' && attempt.reason === 'scheduled')).toBe(true)
    }
    // Every assignment was written by the leader elected for its term; no node ran more agents at
    // once than its configured slots.
    for (const id of ids) {
      for (const entry of nodes[0]?.memory.list(swarmNamespace('work'), { prefix: `task/${id}/a/` }) ?? []) {
        const { term } = entry.value as { term: number }
        expect(entry.author).toBe(leaderOfTerm.get(term))
      }
    }
    for (const node of nodes) expect(peaks.get(node.peerId)).toBeLessThanOrEqual(node.config.agents.maxConcurrent)
    const spread = workersOf(reports)
    expect([...spread.keys()].sort()).toEqual(nodes.map((node) => node.peerId).sort())
    for (const count of spread.values()) expect(count).toBeGreaterThanOrEqual(3)
    // One model call per task: nothing ran twice.
    const callsPerTask = new Map<string, number>()
    for (const request of server.requests) {
      const job = /^job \d+/.exec(promptOf(request))?.[0] ?? '?'
      callsPerTask.set(job, (callsPerTask.get(job) ?? 0) + 1)
    }
    expect(callsPerTask.size).toBe(30)
    expect([...callsPerTask.values()].every((calls) => calls === 1)).toBe(true)
    // Every node derives the same finished task, result included.
    for (const node of nodes) {
      for (const report of reports) {
        const seen = node.tasks.show(report.id)
        expect({ state: seen.state, result: seen.result, assignee: seen.assignee }).toEqual({ state: 'done', result: report.result, assignee: report.assignee })
      }
    }
    expect(reports[0]?.result).toMatch(/^\[local stand-in model\] You are the coder agent/)
  })

  it('mesh: members claim queued tasks and the leader confirms exactly one claimant per task', async () => {
    const server = await serve({ latencyMs: 40 })
    const nodes = await startTaskSwarm(net, { topology: 'mesh', baseUrl: server.url })
    const ids = await submitMany(nodes, 12)
    const reports = await waitForFinished(nodes, ids)
    expect(reports.every((report) => report.state === 'done' && report.attempts === 1)).toBe(true)
    let contested = 0
    for (const report of reports) {
      const claimants = nodes[0]?.memory.list(swarmNamespace('work'), { prefix: `task/${report.id}/c/` }).map((entry) => entry.author) ?? []
      expect(report.attemptLog[0]?.reason).toBe('claimed')
      expect(claimants).toContain(report.assignee)
      if (claimants.length > 1) contested++
    }
    expect(contested).toBeGreaterThan(0)
    expect(workersOf(reports).size).toBeGreaterThanOrEqual(2)
  })

  it('ring: a multi-stage task passes member to member in ring order, each stage fed the previous output', async () => {
    const server = await serve()
    const nodes = await startTaskSwarm(net, { topology: 'ring', baseUrl: server.url })
    const { id } = await (nodes[1] as PeerflowNode).tasks.submit({ swarm: 'work', prompt: 'add rate limiting to the login endpoint', stages: ['planner', 'coder', 'reviewer'] })
    const [report] = await waitForFinished(nodes, [id])
    expect(report?.state).toBe('done')
    const ring = (nodes[0] as PeerflowNode).swarms.status('work').members.map((member) => member.peerId)
    const workers = report?.stageOutputs.map((output) => output.worker) ?? []
    expect(report?.stageOutputs.map((output) => output.role)).toEqual(['planner', 'coder', 'reviewer'])
    for (let stage = 1; stage < 3; stage++) {
      expect(ring.indexOf(workers[stage] as string)).toBe((ring.indexOf(workers[stage - 1] as string) + 1) % ring.length)
    }
    const prompts = server.requests.map(promptOf)
    expect(prompts).toHaveLength(3)
    expect(prompts[1]).toContain(report?.stageOutputs[0]?.text)
    expect(prompts[2]).toContain(report?.stageOutputs[1]?.text)
    expect(report?.result).toBe(report?.stageOutputs[2]?.text)
    expect(report?.result).toMatch(/You are the reviewer agent/)
  })

  it('a worker that shuts down hands its running task back at once, not after the silence timeout', async () => {
    const server = await serve({ latencyMs: 1_500 })
    const nodes = await startTaskSwarm(net, {
      topology: 'hierarchical', baseUrl: server.url, roles: [['planner'], [], []], agents: { workerTimeoutMs: 60_000 }
    })
    const { id } = await (nodes[0] as PeerflowNode).tasks.submit({ swarm: 'work', prompt: 'migrate the schema', role: 'coder' })
    await waitFor('the task running', () => (nodes[0] as PeerflowNode).tasks.show(id).state === 'running')
    const worker = nodes.find((node) => node.peerId === (nodes[0] as PeerflowNode).tasks.show(id).assignee) as PeerflowNode
    const stoppedAt = Date.now()
    await worker.stop()
    const survivors = nodes.filter((node) => node !== worker)
    const [report] = await waitForFinished(survivors, [id], 30_000)
    // Far below the 60 s silence timeout: the hand-back, not the timeout, moved it (the bound leaves
    // room for a re-election when the stopped worker led, and for a loaded machine).
    expect(Date.now() - stoppedAt).toBeLessThan(20_000)
    expect(report?.state).toBe('done')
    // Either the worker's hand-back ('retry') or the leader seeing it disconnect ('reassigned') wins the race.
    const log = report?.attemptLog ?? []
    expect(log).toHaveLength(2)
    expect([log[0]?.worker, log[0]?.reason]).toEqual([worker.peerId, 'scheduled'])
    expect(log[0]?.status).not.toBe('done')
    expect([log[1]?.worker, log[1]?.status]).toEqual([report?.assignee, 'done'])
    expect(['retry', 'reassigned']).toContain(log[1]?.reason)
  })

  it('adaptive: after a member fails, the leader stops giving it work it keeps failing', async () => {
    const good = await serve()
    // The first member's endpoint refuses its key: every attempt there fails (retryably, elsewhere).
    const refusing = await serve({ apiKey: 'a-key-this-node-does-not-have' })
    const nodes = await startTaskSwarm(net, { topology: 'adaptive', baseUrl: good.url, configs: [{ agents: { baseUrl: refusing.url } }] })
    const failing = nodes[0] as PeerflowNode
    const reports: TaskReport[] = []
    for (const id of await submitMany([nodes[1] as PeerflowNode], 1)) reports.push(...await waitForFinished(nodes, [id]))
    for (let i = 0; i < 6; i++) {
      const { id } = await (nodes[2] as PeerflowNode).tasks.submit({ swarm: 'work', prompt: `follow-up ${i}`, role: 'coder' })
      reports.push(...await waitForFinished(nodes, [id]))
    }
    expect(reports.every((report) => report.state === 'done')).toBe(true)
    const onFailing = reports.flatMap((report) => report.attemptLog).filter((attempt) => attempt.worker === failing.peerId)
    expect(onFailing.length).toBe(1)
    expect(onFailing.every((attempt) => attempt.status === 'failed' && /authentication failed \(401\)/.test(attempt.error ?? ''))).toBe(true)
    expect(refusing.requests.length).toBe(onFailing.length)
    await waitFor('failing node still serving', () => failing.status().peerCount === 2)
  })
})
