import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import type { TaskReport, TaskSummary } from '../src/swarm/tasks/task-report.ts'
import { runCli } from './helpers/cli.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { TestNetwork, waitFor } from './helpers/nodes.ts'
import { startTaskSwarm, waitForFinished } from './helpers/task-swarm.ts'

/** Approval gates, dependencies and plans on a real 2-node swarm, through the service and the CLI. */

const serve = modelServersPerTest()
const net = new TestNetwork()

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => { await net.cleanup() })

function promptOf (body: unknown): string {
  const content = (body as { messages: Array<{ content: unknown }> }).messages[0]?.content
  return typeof content === 'string' ? content : JSON.stringify(content)
}

describe('approval gates', () => {
  it('waits in input-required until approved from another node (CLI), records who and the note', async () => {
    const server = await serve()
    const [a, b] = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url }) as [PeerflowNode, PeerflowNode]
    const submitted = await runCli(['task', 'submit', 'deploy to staging', '--swarm', 'work', '--approve', '--json', '--api', a.apiAddress])
    expect(submitted.code, submitted.stderr).toBe(0)
    const { id } = JSON.parse(submitted.stdout) as TaskReport
    await waitFor('the gated task on the other node', () => { try { return b.tasks.show(id).state === 'input-required' } catch { return false } })
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(a.tasks.show(id)).toMatchObject({ state: 'input-required', assignee: null, approval: { state: 'pending', request: 'deploy to staging' } })
    expect(server.requests).toHaveLength(0)
    const listed = await runCli(['task', 'list', '--api', b.apiAddress])
    expect(listed.stdout).toContain(`1 waiting for approval: peerflow task approve|reject ${id}`)
    expect(listed.stdout).toContain('input-required (approval)')

    const metrics = async (node: PeerflowNode): Promise<string> => await (await fetch(`http://${node.apiAddress}/metrics`)).text()
    expect(await metrics(b)).toMatch(/^peerflow_approvals_pending 1$/m)
    expect(await metrics(b)).toMatch(/^peerflow_tasks\{state="input-required"\} 1$/m)
    const overview = await (await fetch(`http://${b.apiAddress}/overview`)).json() as { tasks: { approvals: Array<{ id: string }>, spend: { swarms: Array<{ name: string, spentUsd: number }> } } }
    expect(overview.tasks.approvals.map((task) => task.id)).toEqual([id])
    expect(overview.tasks.spend.swarms).toEqual([{ name: 'work', spentUsd: 0, effectiveCapUsd: null }])
    const watched = await runCli(['status', '--watch', '--api', b.apiAddress], {}, 2_500)
    expect(watched.stdout).toContain('APPROVALS PENDING  1')
    expect(watched.stdout).toContain('SPEND TODAY  $0.00')

    const approved = await runCli(['task', 'approve', id, '--note', 'release window open', '--api', b.apiAddress])
    expect(approved.code, approved.stderr).toBe(0)
    expect(approved.stdout).toBe(`approved ${id}\n`)
    const [report] = await waitForFinished([a, b], [id])
    expect(report).toMatchObject({ state: 'done', approval: { state: 'approved', by: b.peerId, note: 'release window open' } })
    const again = await runCli(['task', 'reject', id, '--api', a.apiAddress])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain(`was already approved by ${b.peerId}`)
    const shown = await runCli(['task', 'show', id, '--api', a.apiAddress])
    expect(shown.stdout).toContain(`Approval: approved by ${b.peerId}`)
    expect(await metrics(a)).toMatch(/^peerflow_approvals_pending 0$/m)
  })

  it('a rejection fails the task with who and why; nothing runs', async () => {
    const server = await serve()
    const [a, b] = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url }) as [PeerflowNode, PeerflowNode]
    const { id } = await a.tasks.submit({ swarm: 'work', prompt: 'drop the old tables', role: 'coder', approve: true })
    await waitFor('replicated', () => { try { return b.tasks.show(id).state === 'input-required' } catch { return false } })
    await b.tasks.decide(id, 'rejected', 'not before the backup')
    const [report] = await waitForFinished([a, b], [id])
    expect(report).toMatchObject({ state: 'failed', error: `rejected by ${b.peerId}: not before the backup`, approval: { state: 'rejected', by: b.peerId } })
    expect(server.requests).toHaveLength(0)
  })
})

describe('stage gates', () => {
  it('--approve-stages holds the next stage until the previous stage\'s output is approved', async () => {
    const server = await serve()
    const [a, b] = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url }) as [PeerflowNode, PeerflowNode]
    const submitted = await runCli(['task', 'submit', 'Plan then write the migration', '--swarm', 'work', '--stages', 'planner,coder,reviewer', '--approve-stages', '2', '--json', '--api', a.apiAddress])
    expect(submitted.code, submitted.stderr).toBe(0)
    const { id } = JSON.parse(submitted.stdout) as TaskReport
    await waitFor('the plan waiting for approval', () => { try { return b.tasks.show(id).state === 'input-required' } catch { return false } }, 20_000)
    const waiting = b.tasks.show(id)
    expect(waiting.approval).toMatchObject({ state: 'pending', beforeStage: 2 })
    expect(waiting.approval?.request).toBe(waiting.stageOutputs[0]?.text)
    expect(waiting.approval?.request).toContain('You are the planner agent')
    const callsBefore = server.requests.length
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(server.requests).toHaveLength(callsBefore)
    const shown = await runCli(['task', 'show', id, '--api', a.apiAddress])
    expect(shown.stdout).toContain('Approval before stage 2: pending')
    await b.tasks.decide(id, 'approved', 'plan looks right')
    const [report] = await waitForFinished([a, b], [id])
    expect(report).toMatchObject({ state: 'done', approval: { state: 'approved', beforeStage: 2, by: b.peerId, note: 'plan looks right' } })
    expect(report?.stageOutputs.map((output) => output.role)).toEqual(['planner', 'coder', 'reviewer'])
    await expect(a.tasks.decide(id, 'rejected', null)).rejects.toThrow(/already/)

    const rejectedRun = await a.tasks.submit({ swarm: 'work', prompt: 'Plan a risky change', stages: ['planner', 'coder'], approveStages: [1] })
    await waitFor('the second plan waiting', () => a.tasks.show(rejectedRun.id).state === 'input-required', 20_000)
    await a.tasks.decide(rejectedRun.id, 'rejected', 'too risky')
    const [rejected] = await waitForFinished([a, b], [rejectedRun.id])
    expect(rejected).toMatchObject({ state: 'failed', error: `stage 2 rejected by ${a.peerId}: too risky` })
    const bad = await runCli(['task', 'submit', 'x', '--swarm', 'work', '--stages', 'planner,coder', '--approve-stages', '1', '--api', a.apiAddress])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('a stage gate goes before stage 2 to 2 of this task, not 1')
  })
})

describe('dependencies', () => {
  it('--after waits until the named tasks are done', async () => {
    const server = await serve()
    const [a, b] = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url }) as [PeerflowNode, PeerflowNode]
    // The two it waits for take a while: long enough for the CLI to see the third one waiting.
    server.script({ kind: 'stand_in', latencyMs: 3_000, times: 2 })
    const first = await a.tasks.submit({ swarm: 'work', prompt: 'step one: build', role: 'coder' })
    const second = await a.tasks.submit({ swarm: 'work', prompt: 'step two: test', role: 'coder' })
    const submitted = await runCli(['task', 'submit', 'step three: ship', '--swarm', 'work', '--after', `${first.id},${second.id}`, '--wait', '--json', '--api', b.apiAddress], {}, 60_000)
    expect(submitted.code, submitted.stderr).toBe(0)
    const third = JSON.parse(submitted.stdout) as TaskReport
    expect(third).toMatchObject({ state: 'done', after: [first.id, second.id], blockedBy: [] })
    expect(submitted.stderr).toMatch(/waiting for t-/)
    const [one, two] = await waitForFinished([a, b], [first.id, second.id])
    const shipStarted = server.requests.find((request) => promptOf(request.body).includes('step three'))?.receivedAt ?? 0
    expect(shipStarted).toBeGreaterThanOrEqual(Math.max(one?.finishedAt ?? Infinity, two?.finishedAt ?? Infinity) - 50)
  })

  it('a failed dependency fails the dependent with the reason', async () => {
    const server = await serve()
    const [a, b] = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url }) as [PeerflowNode, PeerflowNode]
    server.script({ kind: 'not_found', forModel: undefined, times: 10 })
    const failing = await a.tasks.submit({ swarm: 'work', prompt: 'flaky migration', role: 'coder', maxAttempts: 1 })
    const dependent = await a.tasks.submit({ swarm: 'work', prompt: 'after the migration', role: 'coder', after: [failing.id] })
    const [, report] = await waitForFinished([a, b], [failing.id, dependent.id])
    expect(report?.state).toBe('failed')
    expect(report?.error).toMatch(new RegExp(`^dependency ${failing.id} failed: `))
    expect(server.requests.some((request) => promptOf(request.body).includes('after the migration'))).toBe(false)
  })

  it('refuses unknown tasks in --after (exit 2) and plans with a cycle; runs a plan as a DAG', async () => {
    const server = await serve()
    const [a, b] = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url }) as [PeerflowNode, PeerflowNode]
    const unknown = await runCli(['task', 'submit', 'x', '--swarm', 'work', '--after', 't-nope-1234', '--api', a.apiAddress])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr.trim()).toBe("peerflow: unknown task 't-nope-1234' in after (not known on this node)")
    await expect(a.tasks.submitPlan('work', [
      { ref: 'a', prompt: 'a', after: ['c'] }, { ref: 'b', prompt: 'b', after: ['a'] }, { ref: 'c', prompt: 'c', after: ['b'] }
    ])).rejects.toThrow('the plan has a cycle: a -> c -> b -> a')
    await expect(a.tasks.submitPlan('work', [{ ref: 'a', prompt: 'a', role: 'astronaut' }])).rejects.toThrow(/unknown role/)
    expect(a.tasks.list()).toHaveLength(0)

    const plan = await a.tasks.submitPlan('work', [
      { ref: 'review', prompt: 'plan step: review', role: 'reviewer', after: ['code', 'design'] },
      { ref: 'code', prompt: 'plan step: code', role: 'coder', after: ['design'] },
      { ref: 'design', prompt: 'plan step: design', role: 'planner' }
    ])
    expect(plan.map((step) => step.ref)).toEqual(['design', 'code', 'review'])
    const reports = await waitForFinished([a, b], plan.map((step) => step.id))
    expect(reports.map((report) => report.state)).toEqual(['done', 'done', 'done'])
    const order = server.requests.map((request) => /plan step: (\w+)/.exec(promptOf(request.body))?.[1]).filter(Boolean)
    expect([...new Set(order)]).toEqual(['design', 'code', 'review'])
    const summaries: TaskSummary[] = b.tasks.list()
    expect(summaries.find((task) => task.id === plan[2]?.id)?.blockedBy).toEqual([])
  })

  it('a planner agent turns its plan into dependent tasks through its tool', async () => {
    const server = await serve()
    const [a, b] = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url }) as [PeerflowNode, PeerflowNode]
    // The planner's first reply is a plan (as a model would write it); everything after is the stand-in's.
    server.script({
      kind: 'reply',
      text: 'Here is the plan.',
      toolUses: [{ name: 'plan_submit', input: { steps: [
        { ref: 'tests', prompt: 'subtask: write the tests', role: 'tester' },
        { ref: 'impl', prompt: 'subtask: implement the parser', role: 'coder', after: ['tests'] }
      ] } }]
    })
    const planner = await a.tasks.submit({ swarm: 'work', prompt: 'Plan the parser rewrite', role: 'planner' })
    await waitForFinished([a, b], [planner.id])
    await waitFor('both subtasks replicated', () => b.tasks.list().filter((task) => task.prompt.startsWith('subtask:')).length === 2)
    const idOf = (prompt: string): string => b.tasks.list().find((task) => task.prompt === prompt)?.id as string
    const [tests, impl] = await waitForFinished([a, b], [idOf('subtask: write the tests'), idOf('subtask: implement the parser')])
    expect(tests).toMatchObject({ role: 'tester', state: 'done', after: [] })
    expect(impl).toMatchObject({ role: 'coder', state: 'done', after: [tests?.id] })
    expect(b.tasks.show(planner.id).transcript.some((line) => line.role === 'tool' && line.detail === 'plan_submit')).toBe(true)
  })
})
