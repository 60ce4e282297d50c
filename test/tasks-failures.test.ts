import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { startAnthropicServer, type AnthropicServer } from './fixtures/anthropic-server.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { TestNetwork, waitFor } from './helpers/nodes.ts'
import { startTaskSwarm, waitForFinished, type NodeOverrides } from './helpers/task-swarm.ts'

const serve = modelServersPerTest()
const net = new TestNetwork()

beforeAll(() => {
  // Each node gets its endpoint from its config here; a developer's own settings must not leak in.
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => { await net.cleanup() })

/** A one-node swarm: the node leads and works, which is all these failure paths need. */
async function soloNode (baseUrl: string | undefined, overrides: NodeOverrides = {}): Promise<PeerflowNode> {
  const [node] = await startTaskSwarm(net, { topology: 'hierarchical', size: 1, baseUrl: baseUrl as string, configs: [overrides] })
  return node as PeerflowNode
}

async function run (node: PeerflowNode, prompt: string, fields: { maxAttempts?: number, budget?: { maxTurns?: number, maxTokens?: number } } = {}) {
  const { id } = await node.tasks.submit({ swarm: 'work', prompt, role: 'coder', ...fields })
  const [report] = await waitForFinished([node], [id], 30_000)
  return report as NonNullable<typeof report>
}

async function closedPortUrl (): Promise<string> {
  const server = await startAnthropicServer()
  await server.close()
  return server.url
}

describe('task failures', () => {
  it('fails a task whose agent runs over its budget, with the reason, without retrying it', async () => {
    const server = await serve()
    const node = await soloNode(server.url)
    // The stand-in model answers "remember …" with a tool call, which needs a second turn.
    const report = await run(node, 'remember that the release branch is frozen', { budget: { maxTurns: 1 } })
    expect(report).toMatchObject({ state: 'failed', error: 'budget exceeded: max turns 1', attempts: 1 })
    expect(report.attemptLog[0]).toMatchObject({ status: 'failed', error: 'budget exceeded: max turns 1' })
  })

  it('retries model errors within an attempt, and surfaces them on the task when they persist', async () => {
    const server = await serve()
    const node = await soloNode(server.url)
    server.script({ kind: 'server_error', times: 2 })
    const recovered = await run(node, 'summarise the changelog')
    expect(recovered).toMatchObject({ state: 'done', attempts: 1 })
    expect(server.requests.map((request) => request.status)).toEqual([500, 500, 200])

    server.script({ kind: 'server_error', times: Infinity })
    const failed = await run(node, 'summarise the changelog again', { maxAttempts: 1 })
    expect(failed.state).toBe('failed')
    expect(failed.error).toBe(`model endpoint error (500) at ${server.url} after 4 attempts: Internal server error`)
  })

  it('without an API key or base URL the node runs normally and the task says what to set', async () => {
    const node = await soloNode(undefined)
    const report = await run(node, 'write a haiku about CRDTs', { maxAttempts: 2 })
    expect(report.state).toBe('failed')
    expect(report.error).toBe('no model provider configured: set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for a compatible server)')
    expect(report.attempts).toBe(2)
    await node.memory.put('shared-knowledge', 'still', 'up', { author: node.peerId })
    expect(node.memory.get('shared-knowledge', 'still')?.value).toBe('up')
    expect(node.status().peerId).toBe(node.peerId)
  })

  it('a rejected key or an unreachable endpoint fails the task with a clear error; the node stays up', async () => {
    const guarded = await serve({ apiKey: 'the-right-key' })
    const rejected = await run(await soloNode(guarded.url), 'list the open ports', { maxAttempts: 1 })
    expect(rejected).toMatchObject({ state: 'failed', error: `authentication failed (401) at ${guarded.url}: check ANTHROPIC_API_KEY` })

    const nowhere = await closedPortUrl()
    const node = await soloNode(nowhere)
    const unreachable = await run(node, 'list the open ports', { maxAttempts: 1 })
    expect(unreachable.state).toBe('failed')
    expect(unreachable.error).toBe(`model endpoint unreachable: ${nowhere} (ECONNREFUSED; 4 attempts)`)
    expect(node.tasks.list({ state: 'failed' })).toHaveLength(1)
  })

  it('cancelling a running task stops its agent', async () => {
    const server = await serve({ latencyMs: 10_000 })
    const node = await soloNode(server.url)
    const { id } = await node.tasks.submit({ swarm: 'work', prompt: 'a long analysis', role: 'analyst' })
    await waitFor('the agent is running', () => node.tasks.show(id).state === 'running')
    const cancelled = await node.tasks.cancel(id)
    expect(cancelled.state).toBe('cancelled')
    await waitFor('the agent stopped', () => node.tasks.agents().some((agent) => agent.task === id && agent.state === 'cancelled'))
    await expect(node.tasks.cancel(id)).resolves.toMatchObject({ state: 'cancelled' })
  })

  it('gives agents the top patterns as context and memory tools, and feeds the outcome back to the patterns', async () => {
    const server = await serve()
    const node = await soloNode(server.url)
    await node.patterns.storePattern({ name: 'sql-params', namespace: 'security', content: 'Always use parameterized queries for SQL.' })
    const report = await run(node, 'Review the login query for SQL injection and remember that it uses raw string concatenation')
    expect(report.state).toBe('done')
    expect(report.patterns).toEqual(['sql-params'])
    const first = server.requests[0]?.body as { system: Array<{ text: string }>, tools: Array<{ name: string }> }
    expect(first.system.map((block) => block.text).join('\n')).toContain('sql-params (confidence 0.50): Always use parameterized queries for SQL.')
    expect(first.tools.map((tool) => tool.name)).toEqual(['memory_write', 'memory_read', 'memory_list', 'patterns_query', 'pattern_store'])
    // The stand-in model used memory_write: the note is in replicated memory under the agent's node.
    const notes = node.memory.list('shared-knowledge').filter((entry) => entry.author === node.peerId)
    expect(notes).toHaveLength(1)
    expect(report.transcript.some((line) => line.role === 'tool' && line.detail === 'memory_write')).toBe(true)
    const pattern = node.patterns.list().find((info) => info.name === 'sql-params')
    expect(pattern).toMatchObject({ uses: 1, successes: 1 })
    expect(pattern?.confidence).toBeGreaterThan(0.5)
  })
})
