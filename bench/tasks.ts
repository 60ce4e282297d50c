/**
 * npm run bench:tasks — the task layer on three node processes over loopback, with the local
 * Anthropic-compatible stand-in answering at once (so the figures are the layer's own overhead):
 *   - dispatch latency: submit (HTTP call to a node) -> the agent's first model request, made by a
 *     remote node, timed by the stand-in's recorded arrival; one task at a time. Two paths: submitted
 *     at the leader (one gossip hop to the worker), and submitted at a member (spec to the leader,
 *     assignment to a third node: two hops).
 *   - throughput: tasks/s through the swarm (2 agent slots per node), against a direct in-process
 *     SDK call loop with as many calls in flight as the swarm has slots, in the same run.
 *   - loop resume: a loop task's worker SIGKILLed mid-iteration -> the loop's next model call, made
 *     by another node (fast failover settings: heartbeats every 100 ms, a 1.5 s silence limit).
 *   - checkpoint write: the durable local write of one loop iteration's record (LevelDB-backed
 *     replicated memory, in process), which every iteration waits for before the next starts.
 * BENCH_QUICK=1 runs fewer samples.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Anthropic from '@anthropic-ai/sdk'
import { MemoryStore } from '../crdt/index.ts'
import { ApiClient } from '../node/cli/client.ts'
import { iterationKey, TASKS_NAMESPACE } from '../src/swarm/tasks/keys.ts'
import type { Iteration } from '../src/swarm/tasks/records.ts'
import type { TaskReport, TaskSummary } from '../src/swarm/tasks/task-report.ts'
import { startAnthropicServer, type AnthropicServer, type RecordedRequest } from '../test/fixtures/anthropic-server.ts'
import { startNodeProcess, type NodeProcess } from '../test/helpers/cli.ts'
import { median, percentile, printRows, writeResults, type BenchRow } from './lib/report.ts'

const quick = process.env.BENCH_QUICK === '1'
const DISPATCH_SAMPLES = quick ? 20 : 100
const DISPATCH_WARMUP = 10
const THROUGHPUT_TASKS = quick ? 60 : 300
const SLOTS_PER_NODE = 2
const GOAL_DISPATCH_P50_MS = 20
const RESUME_SAMPLES = quick ? 3 : 10
const GOAL_RESUME_P50_MS = 1_000
const CHECKPOINT_SAMPLES = quick ? 100 : 500
const GOAL_CHECKPOINT_P50_MS = 20
/** Failover settings for the resume figure (the defaults wait 10 s of silence before moving work). */
const FAST_FAILOVER = { heartbeatMs: 100, workerTimeoutMs: 1_500 }

interface BenchNode extends NodeProcess {
  client: ApiClient
  dir: string
}

interface SwarmStatus { leader: string | null, members: unknown[] }

function log (line: string): void {
  process.stdout.write(`${line}\n`)
}

async function until (what: string, check: () => Promise<boolean>, timeoutMs = 30_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function startNode (baseUrl: string, agents: Record<string, unknown> = {}, apiKey = 'bench'): Promise<BenchNode> {
  const dir = await mkdtemp(join(tmpdir(), 'peerflow-bench-tasks-'))
  await writeFile(join(dir, 'peerflow.json'), JSON.stringify({ embedder: 'hash', agents: { baseUrl, maxConcurrent: SLOTS_PER_NODE, ...agents } }))
  const node = await startNodeProcess(['--data', dir, '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'], { PEERFLOW_LOG_LEVEL: 'error', ANTHROPIC_API_KEY: apiKey })
  return { ...node, client: new ApiClient(node.api), dir }
}

function callerKey (request: RecordedRequest): string | undefined {
  const header = request.headers['x-api-key']
  return typeof header === 'string' ? header : /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1]
}

/**
 * One sample: a fresh worker runs a loop, is SIGKILLed while iteration 2 is in flight; ms from the
 * kill to the stand-in receiving the loop's next model call from the surviving worker.
 */
async function resumeAfterKill (server: AnthropicServer, leader: BenchNode, successor: BenchNode, sample: number): Promise<number> {
  const victim = await startNode(server.url, FAST_FAILOVER, `bench-victim-${sample}`)
  try {
    const quic = leader.addresses.find((addr) => addr.includes('/quic-v1/')) as string
    await victim.client.request('POST', '/join', { body: { multiaddr: quic } })
    // The victim joins before the successor: with equal free slots the leader picks it first.
    const swarm = `resume-${sample}`
    await formSwarm([leader, victim, successor], swarm, [['planner'], ['coder'], ['coder']])
    const marker = `resume-${sample}`
    const { id } = await leader.client.request<TaskReport>('POST', '/tasks', {
      body: { swarm, prompt: `${marker}: port the next module`, role: 'coder', loop: { maxIterations: 3, iterationTimeoutMs: 30_000 } }
    })
    await until(`${marker} running iteration 2 on the victim`, async () => {
      const report = await leader.client.request<TaskReport>('GET', `/tasks/${id}`)
      return report.loop?.running === 2 && report.assignee === victim.peerId
    }, 30_000, 5)
    await victim.stop('SIGKILL')
    const killedAt = Date.now()
    const successorCall = (): RecordedRequest | undefined => server.requests.find((request) => callerKey(request) === 'bench-successor' && promptOf(request).startsWith(`${marker}:`))
    await until(`${marker} resumed`, async () => successorCall() !== undefined, 30_000, 2)
    const resumedAt = (successorCall() as RecordedRequest).receivedAt
    await until(`${marker} done`, async () => (await leader.client.request<TaskReport>('GET', `/tasks/${id}`)).state === 'done', 30_000, 20)
    return resumedAt - killedAt
  } finally {
    await victim.stop('SIGKILL')
    await rm(victim.dir, { recursive: true, force: true })
  }
}

/** Ms per durable local write of a loop iteration record (2 KB checkpoint), one after another. */
async function checkpointWrites (samples: number): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'peerflow-bench-checkpoint-'))
  const store = await MemoryStore.open(dir)
  try {
    const times: number[] = []
    for (let i = 1; i <= samples; i++) {
      const record: Iteration = {
        worker: 'bench', iteration: i, checkpoint: `iteration ${i}: ${'x'.repeat(2_000)}`, complete: false, tokens: 1_000, costUsd: 0.01, model: 'bench', startedAt: 0, finishedAt: 1
      }
      const started = performance.now()
      await store.put(TASKS_NAMESPACE, iterationKey('t-bench', { term: 1, n: 1 }, i), record, { author: 'bench' })
      times.push(performance.now() - started)
    }
    return times
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** Forms swarm `name` with `roles[i]` offered by node i; resolves once every member agrees on the leader. */
async function formSwarm (nodes: BenchNode[], name: string, roles: string[][]): Promise<BenchNode> {
  const [first, ...others] = nodes as [BenchNode, ...BenchNode[]]
  await first.client.request('POST', '/swarms', { body: { name, topology: 'hierarchical', maxAgents: 64, roles: roles[0] } })
  for (const [i, node] of others.entries()) {
    await until(`node ${i + 1} in swarm ${name}`, async () => {
      try {
        await node.client.request('POST', `/swarms/${name}/join`, { body: { roles: roles[i + 1] } })
        return true
      } catch {
        return false
      }
    }, 15_000, 100)
  }
  let leader: string | null = null
  await until(`a leader agreed in ${name}`, async () => {
    const statuses = await Promise.all(nodes.map(async (node) => node.client.request<SwarmStatus>('GET', `/swarms/${name}`)))
    leader = statuses[0]?.leader ?? null
    return leader !== null && statuses.every((status) => status.leader === leader && status.members.length === nodes.length)
  }, 15_000, 100)
  return nodes.find((node) => node.peerId === leader) as BenchNode
}

function promptOf (request: RecordedRequest): string {
  const content = (request.body as { messages?: Array<{ content: unknown }> }).messages?.[0]?.content
  return typeof content === 'string' ? content : ''
}

/** One task: ms from the submit call to the stand-in receiving its first model request. */
async function dispatchLatency (server: AnthropicServer, submitter: BenchNode, swarm: string, marker: string): Promise<number> {
  const seen = server.requests.length
  const submittedAt = Date.now()
  const { id } = await submitter.client.request<TaskReport>('POST', '/tasks', { body: { swarm, prompt: `${marker}: tidy up the logging`, role: 'coder' } })
  await until(`the model call of ${marker}`, async () => server.requests.slice(seen).some((request) => promptOf(request).startsWith(`${marker}:`)), 10_000, 2)
  const request = server.requests.slice(seen).find((candidate) => promptOf(candidate).startsWith(`${marker}:`)) as RecordedRequest
  await until(`${marker} done`, async () => (await submitter.client.request<TaskReport>('GET', `/tasks/${id}`)).state === 'done', 10_000, 5)
  return request.receivedAt - submittedAt
}

/** CPU time (user + system) a process has used so far, from /proc (Linux). */
async function cpuMs (pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? []
  // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second here).
  return (Number(fields[11]) + Number(fields[12])) * 10
}

async function swarmCpuMs (nodes: BenchNode[]): Promise<number> {
  let total = 0
  for (const node of nodes) total += await cpuMs(node.child.pid as number)
  return total
}

/** Submits `count` tasks round-robin over the nodes, all at once; tasks/s until every one is done. */
async function swarmThroughput (nodes: BenchNode[], swarm: string, count: number): Promise<{ perSecond: number, failed: number }> {
  const started = performance.now()
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    const node = nodes[i % nodes.length] as BenchNode
    await node.client.request('POST', '/tasks', { body: { swarm, prompt: `load-${i}: rename the helper`, role: 'coder' } })
  }))
  let finished: TaskSummary[] = []
  await until(`${count} tasks finished`, async () => {
    const { tasks } = await (nodes[0] as BenchNode).client.request<{ tasks: TaskSummary[] }>('GET', '/tasks', { query: { swarm } })
    finished = tasks.filter((task) => task.state === 'done' || task.state === 'failed')
    return finished.length === count
  }, 120_000, 50)
  const seconds = (performance.now() - started) / 1000
  return { perSecond: count / seconds, failed: finished.filter((task) => task.state === 'failed').length }
}

/** The baseline: the same model calls made straight from this process with the SDK, `inFlight` at a time. */
async function directThroughput (server: AnthropicServer, count: number, inFlight: number): Promise<{ perSecond: number, latencies: number[] }> {
  const client = new Anthropic({ apiKey: 'bench', baseURL: server.url, maxRetries: 0 })
  const latencies: number[] = []
  const call = async (i: number): Promise<void> => {
    const started = performance.now()
    await client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 1024, messages: [{ role: 'user', content: `direct-${i}: rename the helper` }] }).finalMessage()
    latencies.push(performance.now() - started)
  }
  for (let i = 0; i < 5; i++) await call(-1 - i)
  latencies.length = 0
  const started = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await call(next++)
  }))
  return { perSecond: count / ((performance.now() - started) / 1000), latencies }
}

const server = await startAnthropicServer()
const nodes: BenchNode[] = []
try {
  log('starting 3 node processes…')
  for (let i = 0; i < 3; i++) nodes.push(await startNode(server.url))
  const [first, ...others] = nodes as [BenchNode, ...BenchNode[]]
  const quic = first.addresses.find((addr) => addr.includes('/quic-v1/')) as string
  for (const node of others) await node.client.request('POST', '/join', { body: { multiaddr: quic } })

  // Dispatch: the leader offers no coder role, so every coder task runs on another node.
  const leader = await formSwarm(nodes, 'dispatch', [['planner'], ['coder'], ['coder']])
  if (leader !== first) throw new Error('expected the swarm creator to lead the dispatch swarm')
  // Submitted at a member that does not take the role: spec -> leader -> the third node.
  const relayLeader = await formSwarm(nodes, 'relay', [['planner'], ['planner'], ['coder']])
  if (relayLeader !== first) throw new Error('expected the swarm creator to lead the relay swarm')
  log(`dispatch latency: ${DISPATCH_SAMPLES} tasks one at a time on each path, the paths interleaved…`)
  const oneHop: number[] = []
  const twoHops: number[] = []
  for (let i = 0; i < DISPATCH_WARMUP + DISPATCH_SAMPLES; i++) {
    const atLeader = await dispatchLatency(server, leader, 'dispatch', `one-hop-${i}`)
    const atMember = await dispatchLatency(server, others[0] as BenchNode, 'relay', `two-hop-${i}`)
    // The first ones warm up the nodes' code paths (JIT, first SDK use); they are not counted.
    if (i < DISPATCH_WARMUP) continue
    oneHop.push(atLeader)
    twoHops.push(atMember)
  }

  await formSwarm(nodes, 'load', [[], [], []])
  log(`throughput: ${THROUGHPUT_TASKS} tasks through the swarm…`)
  const cpuBefore = await swarmCpuMs(nodes)
  const swarm = await swarmThroughput(nodes, 'load', THROUGHPUT_TASKS)
  const cpuPerTask = (await swarmCpuMs(nodes) - cpuBefore) / THROUGHPUT_TASKS
  log(`baseline: ${THROUGHPUT_TASKS} direct SDK calls, ${3 * SLOTS_PER_NODE} in flight…`)
  const direct = await directThroughput(server, THROUGHPUT_TASKS, 3 * SLOTS_PER_NODE)
  const directSequential = await directThroughput(server, DISPATCH_SAMPLES, 1)

  log(`checkpoint writes: ${CHECKPOINT_SAMPLES} iteration records…`)
  const checkpoints = await checkpointWrites(CHECKPOINT_SAMPLES)
  log(`loop resume: ${RESUME_SAMPLES} workers SIGKILLed mid-iteration…`)
  const resumeLeader = await startNode(server.url, FAST_FAILOVER, 'bench-leader')
  const successor = await startNode(server.url, FAST_FAILOVER, 'bench-successor')
  nodes.push(resumeLeader, successor)
  await successor.client.request('POST', '/join', { body: { multiaddr: resumeLeader.addresses.find((addr) => addr.includes('/quic-v1/')) as string } })
  // Iterations that take a while, so that the kill lands mid-iteration.
  server.script({ kind: 'stand_in', latencyMs: 250, times: Number.POSITIVE_INFINITY })
  const resumes: number[] = []
  for (let i = 0; i < RESUME_SAMPLES; i++) resumes.push(await resumeAfterKill(server, resumeLeader, successor, i))

  const oneHopP50 = median(oneHop)
  const resumeP50 = median(resumes)
  const checkpointP50 = median(checkpoints)
  const rows: BenchRow[] = [
    { metric: 'dispatch latency, submit at leader -> remote model call (p50)', value: oneHopP50, unit: 'ms', goal: `< ${GOAL_DISPATCH_P50_MS}`, met: oneHopP50 < GOAL_DISPATCH_P50_MS },
    { metric: 'dispatch latency, submit at leader (p90 / p99)', value: `${percentile(oneHop, 90).toFixed(1)} / ${percentile(oneHop, 99).toFixed(1)}`, unit: 'ms' },
    { metric: 'dispatch latency, submit at member -> leader -> third node (p50)', value: median(twoHops), unit: 'ms' },
    { metric: 'dispatch latency, submit at member (p90 / p99)', value: `${percentile(twoHops, 90).toFixed(1)} / ${percentile(twoHops, 99).toFixed(1)}`, unit: 'ms' },
    { metric: 'direct SDK call round trip, in process (p50, reference)', value: median(directSequential.latencies), unit: 'ms' },
    { metric: `swarm throughput (3 nodes x ${SLOTS_PER_NODE} slots, ${THROUGHPUT_TASKS} tasks)`, value: swarm.perSecond, unit: 'tasks/s' },
    { metric: `direct SDK calls, ${3 * SLOTS_PER_NODE} in flight (baseline)`, value: direct.perSecond, unit: 'calls/s' },
    { metric: 'swarm / direct throughput', value: swarm.perSecond / direct.perSecond, unit: 'x' },
    { metric: 'CPU per task, summed over the 3 node processes', value: cpuPerTask, unit: 'ms' },
    { metric: 'tasks failed during the throughput run', value: swarm.failed, unit: 'tasks' },
    { metric: `loop resume: worker SIGKILL -> next iteration's model call on another node (p50, ${RESUME_SAMPLES} kills)`, value: resumeP50, unit: 'ms', goal: `< ${GOAL_RESUME_P50_MS}`, met: resumeP50 < GOAL_RESUME_P50_MS },
    { metric: 'loop resume (max)', value: Math.max(...resumes), unit: 'ms' },
    { metric: 'checkpoint write per iteration, durable locally (p50)', value: checkpointP50, unit: 'ms', goal: `< ${GOAL_CHECKPOINT_P50_MS}`, met: checkpointP50 < GOAL_CHECKPOINT_P50_MS },
    { metric: 'checkpoint write per iteration (p99)', value: percentile(checkpoints, 99), unit: 'ms' }
  ]
  printRows('bench:tasks (3 node processes on loopback, instant stand-in model, 2 shared cores)', rows)
  await writeResults('tasks', rows, {
    quick,
    samples: { dispatchOneHopMs: oneHop, dispatchTwoHopsMs: twoHops, directCallMs: directSequential.latencies, loopResumeMs: resumes, checkpointWriteMs: checkpoints },
    settings: { slotsPerNode: SLOTS_PER_NODE, embedder: 'hash', throughputTasks: THROUGHPUT_TASKS, resumeFailover: FAST_FAILOVER }
  })
} finally {
  await Promise.all(nodes.map(async (node) => {
    await node.stop()
    await rm(node.dir, { recursive: true, force: true })
  }))
  await server.close()
}
