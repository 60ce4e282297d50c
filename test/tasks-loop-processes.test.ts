import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { TaskReport } from '../src/swarm/tasks/task-report.ts'
import type { RecordedRequest } from './fixtures/anthropic-server.ts'
import { runCli } from './helpers/cli.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { nodeProcessesPerTest } from './helpers/node-processes.ts'
import { waitFor } from './helpers/nodes.ts'
import { callerKey, startProcessSwarm, type SwarmProcess } from './helpers/process-swarm.ts'

/** A loop task outliving the node running it: nodes as separate processes, the worker killed with SIGKILL. */

const serve = modelServersPerTest()
const processes = nodeProcessesPerTest()

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
})

/** The iteration a model call belongs to (from the iteration prompt), or undefined for other calls. */
function iterationOf (request: RecordedRequest): number | undefined {
  const content = (request.body as { messages: Array<{ content: unknown }> }).messages[0]?.content
  const match = /This is iteration (\d+) of at most/.exec(typeof content === 'string' ? content : '')
  return match === null ? undefined : Number(match[1])
}

describe('loop tasks across node processes', () => {
  it('the worker SIGKILLed at iteration 3 of 6: the loop finishes on another node, iterations 1..6 recorded once', async () => {
    const server = await serve({ latencyMs: 400 })
    // The submitter takes reviewer work only, so the coder loop runs on one of the other two. Attempts to
    // spare: on a loaded machine, elections in the first seconds can move the task before the kill does.
    const nodes = await startProcessSwarm(processes, { size: 3, baseUrl: server.url, roles: [['reviewer'], [], []], agents: { maxAttempts: 6 } })
    const submitter = nodes[0] as SwarmProcess
    const dir = await processes.dataDir()
    const promptFile = join(dir, 'PROMPT.md')
    const prdFile = join(dir, 'PRD.md')
    await writeFile(promptFile, 'Port the storage layer to the new driver, one module per iteration.\n')
    await writeFile(prdFile, '# PRD\nEvery storage module uses the new driver; tests pass.\n')
    const cli = runCli([
      'task', 'submit', '--loop', '--prompt-file', promptFile, '--prd-file', prdFile, '--swarm', 'work', '--role', 'coder',
      '--max-iterations', '6', '--iteration-timeout', '30s', '--wait', '--json', '--api', submitter.api
    ], {}, 120_000)

    let id = ''
    let victim: SwarmProcess | undefined
    let victimAttempt = ''
    await waitFor('the loop running iteration 3', async () => {
      const listed = await submitter.client.request<{ tasks: Array<{ id: string }> }>('GET', '/tasks')
      if (listed.tasks.length === 0) return false
      id = (listed.tasks[0] as { id: string }).id
      const report = await submitter.client.request<TaskReport>('GET', `/tasks/${id}`)
      if (report.loop?.running !== 3) return false
      victim = nodes.find((node) => node.peerId === report.assignee)
      victimAttempt = report.attemptLog.at(-1)?.id ?? ''
      return true
    }, 60_000, 20)
    expect(victim).toBeDefined()
    expect(victim).not.toBe(submitter)
    await (victim as SwarmProcess).stop('SIGKILL')
    const killedAt = Date.now()

    const result = await cli
    expect(result.code, result.stderr).toBe(0)
    const finished = JSON.parse(result.stdout) as TaskReport
    expect(finished).toMatchObject({ id, state: 'done', stopReason: 'max-iterations', iterations: 6 })
    const log = finished.loop?.iterationLog ?? []
    expect(log.map((it) => it.iteration)).toEqual([1, 2, 3, 4, 5, 6])
    const successor = finished.assignee as string
    expect(successor).not.toBe(victim?.peerId)
    expect(log.map((it) => it.worker)).toEqual([victim?.peerId, victim?.peerId, successor, successor, successor, successor])
    // Iteration 3 was in flight on the killed worker: its rerun says so; no other iteration repeats.
    expect(log.map((it) => it.repeatOf)).toEqual([null, null, victimAttempt, null, null, null])
    expect(finished.attemptLog.at(-1)).toMatchObject({ reason: 'reassigned', worker: successor })
    expect(result.stderr).toMatch(/iteration [1-6]\/6 · worker \S+ · \$0\.00/)

    // The model calls tell the same story: the killed worker asked for 1..3, its successor for 3..6 only.
    const byCaller = (key: string): number[] => [...new Set(server.requests.filter((request) => callerKey(request) === key).flatMap((request) => iterationOf(request) ?? []))]
    const successorNode = nodes.find((node) => node.peerId === successor) as SwarmProcess
    expect(byCaller((victim as SwarmProcess).apiKey)).toEqual([1, 2, 3])
    expect(byCaller(successorNode.apiKey)).toEqual([3, 4, 5, 6])
    const resumedAt = server.requests.find((request) => callerKey(request) === successorNode.apiKey)?.receivedAt ?? Number.NaN
    process.stdout.write(`loop resumed on another node ${resumedAt - killedAt} ms after the worker's SIGKILL\n`)

    // Every surviving node shows the same iterations.
    const shown = await runCli(['task', 'show', id, '--api', successorNode.api])
    expect(shown.stdout).toContain('Loop: 6/6 iterations')
    expect(shown.stdout).toContain('[repeats the iteration attempt')
    expect(shown.stdout).toContain('stopped: max-iterations')
  }, 150_000)

  it('bad input is a one-line error, exit 2', async () => {
    const dir = await processes.dataDir()
    const missing = await runCli(['task', 'submit', '--loop', '--prompt-file', join(dir, 'nope.md'), '--swarm', 'work', '--api', '127.0.0.1:9'])
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
    expect(missing.stderr).toContain("--prompt-file: cannot read '")
    await writeFile(join(dir, 'p.md'), 'x')
    const negative = await runCli(['task', 'submit', '--loop', '--prompt-file', join(dir, 'p.md'), '--budget-usd', '-1', '--swarm', 'work', '--api', '127.0.0.1:9'])
    expect(negative.code).toBe(2)
    expect(negative.stderr).toContain('--budget-usd: expected an amount in USD of 0 or more')
    const stray = await runCli(['task', 'submit', 'x', '--max-iterations', '3', '--swarm', 'work', '--api', '127.0.0.1:9'])
    expect(stray.code).toBe(2)
    expect(stray.stderr).toContain('--max-iterations needs --loop')
  })
})
