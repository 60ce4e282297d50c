import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { TaskReport } from '../src/swarm/tasks/task-report.ts'
import { startAnthropicServer, type AnthropicServer, type RecordedRequest } from './fixtures/anthropic-server.ts'
import { runCli } from './helpers/cli.ts'
import { nodeProcessesPerTest } from './helpers/node-processes.ts'
import { callerKey, startProcessSwarm, type SwarmProcess } from './helpers/process-swarm.ts'
import { waitFor } from './helpers/nodes.ts'

/**
 * Nodes as separate processes, killed with SIGKILL: what a crash really looks like to the others
 * (no goodbye, its unsent gossip lost, its QUIC connection left to time out).
 */

type ProcessNode = SwarmProcess

const processes = nodeProcessesPerTest()
let server: AnthropicServer | undefined

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => {
  await server?.close()
  server = undefined
})

interface SwarmStatus { leader: string | null, term: number, members: unknown[] }

/** `size` node processes in swarm `name`, agreed on its leader. */
async function startCluster (size: number, baseUrl: string, name = 'work'): Promise<ProcessNode[]> {
  return startProcessSwarm(processes, { size, baseUrl, name })
}

async function leaderOf (nodes: ProcessNode[], name = 'work'): Promise<ProcessNode> {
  const status = await (nodes[0] as ProcessNode).client.request<SwarmStatus>('GET', `/swarms/${name}`)
  return nodes.find((node) => node.peerId === status.leader) as ProcessNode
}

async function submit (node: ProcessNode, prompt: string): Promise<string> {
  return (await node.client.request<TaskReport>('POST', '/tasks', { body: { swarm: 'work', prompt, role: 'coder' } })).id
}

async function show (node: ProcessNode, id: string): Promise<TaskReport> {
  return node.client.request<TaskReport>('GET', `/tasks/${id}`)
}

async function waitAllDone (nodes: ProcessNode[], ids: string[], timeoutMs = 60_000): Promise<TaskReport[]> {
  await waitFor(`${ids.length} tasks done on every surviving node`, async () => {
    for (const node of nodes) {
      for (const id of ids) {
        try {
          if ((await show(node, id)).state !== 'done') return false
        } catch {
          return false
        }
      }
    }
    return true
  }, timeoutMs, 200)
  return Promise.all(ids.map(async (id) => show(nodes[0] as ProcessNode, id)))
}


function taskOf (request: RecordedRequest): string {
  const content = (request.body as { messages: Array<{ content: unknown }> }).messages[0]?.content
  return /job-\d+/.exec(typeof content === 'string' ? content : '')?.[0] ?? '?'
}

function acceptedResults (report: TaskReport): number {
  return report.attemptLog.filter((attempt) => attempt.status === 'done').length
}

describe('tasks across node processes', () => {
  it('a worker SIGKILLed mid-task: its task completes on another member, with one result', async () => {
    server = await startAnthropicServer({ latencyMs: 1_500 })
    const nodes = await startCluster(3, server.url)
    const leader = await leaderOf(nodes)
    const ids: string[] = []
    for (let i = 0; i < 6; i++) ids.push(await submit(leader, `job-${i}: audit dependency ${i}`))
    let victim: ProcessNode | undefined
    let victimTasks: string[] = []
    await waitFor('a task running on a member other than the leader', async () => {
      const reports = await Promise.all(ids.map(async (id) => show(leader, id)))
      victim = nodes.find((node) => node !== leader && reports.some((report) => report.state === 'running' && report.assignee === node.peerId))
      victimTasks = reports.filter((report) => report.assignee === victim?.peerId).map((report) => report.id)
      return victim !== undefined
    }, 15_000, 50)
    await (victim as ProcessNode).stop('SIGKILL')
    const survivors = nodes.filter((node) => node !== victim)
    const reports = await waitAllDone(survivors, ids)

    for (const report of reports) expect(acceptedResults(report)).toBe(1)
    for (const id of victimTasks) {
      const report = reports.find((candidate) => candidate.id === id) as TaskReport
      expect(report.assignee).not.toBe(victim?.peerId)
      // A loaded machine can move a task once before the kill (a late heartbeat): the kill is the last move.
      expect(report.attemptLog.map((attempt) => attempt.worker).slice(-2), JSON.stringify(report.attemptLog)).toEqual([victim?.peerId, report.assignee])
      expect(report.attemptLog.at(-1)?.reason).toBe('reassigned')
    }
    // Every task's answer was produced once: the killed worker's calls never completed.
    const completed = server.requests.filter((request) => request.status === 200).map(taskOf)
    expect(completed.sort()).toEqual(ids.map((_, i) => `job-${i}`).sort())
    for (const id of ids) {
      const seen = await Promise.all(survivors.map(async (node) => show(node, id)))
      expect(seen.map((report) => report.result)).toEqual(seen.map(() => seen[0]?.result))
    }
  })

  it('the leader SIGKILLed mid-scheduling: the new leader carries on, no task lost or run twice at once', async () => {
    const latencyMs = 300
    server = await startAnthropicServer({ latencyMs })
    const nodes = await startCluster(3, server.url)
    const oldLeader = await leaderOf(nodes)
    const submitter = nodes.find((node) => node !== oldLeader) as ProcessNode
    const oldTerm = (await submitter.client.request<SwarmStatus>('GET', '/swarms/work')).term
    const ids: string[] = []
    // Twice the swarm's six agent slots: most tasks are still queued when the leader dies.
    for (let i = 0; i < 12; i++) ids.push(await submit(submitter, `job-${i}: port module ${i}`))
    await waitFor('the leader has started assigning', async () => (await show(submitter, ids[0] as string)).assignee !== null, 10_000, 20)
    await oldLeader.stop('SIGKILL')
    const survivors = nodes.filter((node) => node !== oldLeader)
    const reports = await waitAllDone(survivors, ids)

    for (const report of reports) expect(acceptedResults(report)).toBe(1)
    const newTerms = reports.flatMap((report) => report.attemptLog).filter((attempt) => attempt.term > oldTerm)
    expect(newTerms.length).toBeGreaterThan(0)
    // Never two model calls for one task in flight at once among live workers (the killed leader's
    // own call may still be open at the server, but nobody is left to act on its answer).
    const byTask = new Map<string, number[]>()
    const live = server.requests.filter((request) => callerKey(request) !== oldLeader.apiKey)
    const keys = new Set(nodes.map((node) => node.apiKey))
    for (const request of server.requests) expect(keys.has(callerKey(request) ?? '')).toBe(true)
    for (const request of live) byTask.set(taskOf(request), [...(byTask.get(taskOf(request)) ?? []), request.receivedAt])
    for (const [task, starts] of byTask) {
      const sorted = starts.sort((a, b) => a - b)
      for (let i = 1; i < sorted.length; i++) expect((sorted[i] as number) - (sorted[i - 1] as number), task).toBeGreaterThanOrEqual(latencyMs)
    }
    expect([...new Set(server.requests.map(taskOf))].sort()).toEqual(ids.map((_, i) => `job-${i}`).sort())
  })

  it('CLI: `task submit --wait --json` prints the finished task, and `task show --json` on another node prints the same', async () => {
    server = await startAnthropicServer()
    const [a, b] = await startCluster(2, server.url, 'review') as [ProcessNode, ProcessNode]
    const submitted = await runCli(['task', 'submit', 'Review src/auth.ts for injection risks', '--swarm', 'review', '--role', 'reviewer', '--wait', '--json', '--api', a.api])
    expect(submitted.code, submitted.stderr).toBe(0)
    const finished = JSON.parse(submitted.stdout) as TaskReport
    expect(finished).toMatchObject({ state: 'done', role: 'reviewer', swarm: 'review' })
    expect(finished.result).toMatch(/You are the reviewer agent/)
    expect(submitted.stderr).toMatch(/done in \d/)

    let shown: TaskReport | undefined
    await waitFor('the task shown on the other node', async () => {
      const result = await runCli(['task', 'show', finished.id, '--json', '--api', b.api])
      if (result.code !== 0) return false
      shown = JSON.parse(result.stdout) as TaskReport
      return shown.state === 'done'
    }, 15_000, 100)
    expect({ id: shown?.id, state: shown?.state, result: shown?.result }).toEqual({ id: finished.id, state: 'done', result: finished.result })

    const listed = await runCli(['task', 'list', '--swarm', 'review', '--state', 'done', '--json', '--api', b.api])
    expect((JSON.parse(listed.stdout) as { tasks: Array<{ id: string }> }).tasks.map((task) => task.id)).toEqual([finished.id])
    const human = await runCli(['task', 'show', finished.id, '--api', a.api])
    expect(human.stdout).toContain(`Task ${finished.id}   state: done   swarm: review   role: reviewer`)
    expect(human.stdout).toContain('Result:')
    const worker = [a, b].find((node) => node.peerId === finished.assignee) as ProcessNode
    const agents = await runCli(['agent', 'list', '--json', '--api', worker.api])
    expect((JSON.parse(agents.stdout) as { agents: Array<{ task: string, state: string, role: string }> }).agents).toEqual([
      expect.objectContaining({ task: finished.id, state: 'done', role: 'reviewer' })
    ])
    const unknown = await runCli(['task', 'show', 't-nope', '--api', a.api])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("no task 't-nope' on this node")
  })
})
