import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Role, TaskState, type Message, type Task } from '@a2a-js/sdk'
import { ClientFactory } from '@a2a-js/sdk/client'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { API_TOKEN_FILE } from '../node/api/api-token.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { TestNetwork, waitFor } from './helpers/nodes.ts'
import { startTaskSwarm } from './helpers/task-swarm.ts'

const serve = modelServersPerTest()
const net = new TestNetwork()

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => { await net.cleanup() })

function userMessage (text: string, metadata?: Record<string, unknown>): Message {
  return {
    messageId: randomUUID(),
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [{ content: { $case: 'text', value: text }, mediaType: 'text/plain', filename: '', metadata: undefined }],
    metadata,
    extensions: [],
    referenceTaskIds: []
  }
}

function textOf (task: Task): string {
  return task.artifacts.flatMap((artifact) => artifact.parts).map((part) => part.content?.$case === 'text' ? part.content.value : '').join('')
}

async function rpc (node: PeerflowNode, body: unknown): Promise<{ status: number, json: Record<string, any> }> {
  const response = await fetch(`http://${node.apiAddress}/a2a`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, json: await response.json() as Record<string, any> }
}

describe('A2A endpoint', () => {
  it('serves an agent card with the swarms and roles as skills; the SDK client sends a message that a swarm runs on the stand-in model, and gets the finished task', async () => {
    const server = await serve()
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url, roles: [['planner'], ['reviewer']] })
    const [front, worker] = nodes as [PeerflowNode, PeerflowNode]

    const card = await (await fetch(`http://${front.apiAddress}/.well-known/agent-card.json`)).json() as { name: string, skills: Array<{ id: string }> }
    expect(card.name).toContain('peerflow')
    expect(card.skills.map((skill) => skill.id)).toEqual(['work', 'work/planner', 'work/reviewer'])

    const client = await new ClientFactory().createFromUrl(`http://${front.apiAddress}`)
    const sent = await client.sendMessage({
      tenant: '',
      message: userMessage('review the change to the session cookie handling', { skill: 'work/reviewer' }),
      configuration: undefined,
      metadata: undefined
    })
    const task = sent as Task
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED)
    expect(textOf(task)).toContain('session cookie')
    const peerflowTaskId = task.metadata?.peerflowTaskId as string
    expect(front.tasks.show(peerflowTaskId).assignee).toBe(worker.peerId)
    expect(server.requests.length).toBeGreaterThan(0)

    const fetched = await client.getTask({ tenant: '', id: task.id, historyLength: undefined })
    expect(fetched.status?.state).toBe(TaskState.TASK_STATE_COMPLETED)
    expect(textOf(fetched)).toBe(textOf(task))
  }, 60_000)

  it('streams the updates of a task, and cancels one that is running', async () => {
    const server = await serve({ latencyMs: 5_000 })
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url })
    const front = nodes[0] as PeerflowNode
    const client = await new ClientFactory().createFromUrl(`http://${front.apiAddress}`)

    const states: TaskState[] = []
    let taskId = ''
    const stream = client.sendMessageStream({ tenant: '', message: userMessage('summarise the release notes'), configuration: undefined, metadata: undefined })
    for await (const event of stream) {
      const payload = event.payload
      if (payload?.$case === 'task') taskId = payload.value.id
      if (payload?.$case === 'statusUpdate' && payload.value.status !== undefined) states.push(payload.value.status.state)
      if (states.includes(TaskState.TASK_STATE_WORKING)) break
    }
    expect(taskId).not.toBe('')
    expect(states).toContain(TaskState.TASK_STATE_WORKING)

    const cancelled = await client.cancelTask({ tenant: '', id: taskId, metadata: undefined })
    expect(cancelled.status?.state).toBe(TaskState.TASK_STATE_CANCELED)
    const peerflowTaskId = cancelled.metadata?.peerflowTaskId as string
    await waitFor('the swarm task cancelled', () => front.tasks.show(peerflowTaskId).state === 'cancelled', 10_000)
  }, 60_000)

  it('answers A2A 0.3 JSON-RPC (no version header): message/send runs a task; bad requests get JSON-RPC errors', async () => {
    const server = await serve()
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url })
    const front = nodes[0] as PeerflowNode

    const sent = await rpc(front, {
      jsonrpc: '2.0',
      id: 1,
      method: 'message/send',
      params: { message: { kind: 'message', messageId: randomUUID(), role: 'user', parts: [{ kind: 'text', text: 'list the open questions about caching' }] } }
    })
    expect(sent.status).toBe(200)
    expect(sent.json.result?.kind).toBe('task')
    expect(sent.json.result?.status?.state).toBe('completed')
    expect(JSON.stringify(sent.json.result?.artifacts)).toContain('caching')

    const got = await rpc(front, { jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { id: sent.json.result.id } })
    expect(got.json.result?.status?.state).toBe('completed')

    const unknownSwarm = await rpc(front, {
      jsonrpc: '2.0',
      id: 3,
      method: 'message/send',
      params: { message: { kind: 'message', messageId: randomUUID(), role: 'user', parts: [{ kind: 'text', text: 'x' }], metadata: { swarm: 'nope' } } }
    })
    expect(unknownSwarm.json.error?.code).toBe(-32602)
    expect(unknownSwarm.json.error?.message).toContain("unknown swarm 'nope'")

    const followUp = await rpc(front, {
      jsonrpc: '2.0',
      id: 6,
      method: 'message/send',
      params: { message: { kind: 'message', messageId: randomUUID(), taskId: sent.json.result.id, role: 'user', parts: [{ kind: 'text', text: 'and more' }] } }
    })
    expect(followUp.json.error?.message).toContain('no follow-up messages')
    const newer = await fetch(`http://${front.apiAddress}/a2a`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'a2a-version': '9.9' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'GetTask', params: { id: sent.json.result.id } })
    })
    expect(((await newer.json()) as { error?: { code: number } }).error?.code).toBe(-32009)

    const noText = await rpc(front, {
      jsonrpc: '2.0',
      id: 8,
      method: 'message/stream',
      params: { message: { kind: 'message', messageId: randomUUID(), role: 'user', parts: [{ kind: 'data', data: { a: 1 } }] } }
    })
    expect(noText.json.error?.code).toBe(-32602)
    expect(noText.json.error?.message).toContain('no text part')

    const missing = await rpc(front, { jsonrpc: '2.0', id: 4, method: 'tasks/get', params: { id: 'no-such-task' } })
    expect(missing.json.error?.code).toBe(-32001)
    const unknownMethod = await rpc(front, { jsonrpc: '2.0', id: 5, method: 'tasks/explode', params: {} })
    expect(unknownMethod.json.error?.code).toBe(-32601)
  }, 60_000)

  it('beyond loopback, the card and the endpoint need the API token, and the card says so', async () => {
    const dataDir = await net.dataDir()
    const node = await net.start({ embedder: 'hash', api: '0.0.0.0:0' }, dataDir)
    const port = node.apiAddress.slice(node.apiAddress.lastIndexOf(':') + 1)
    const token = (await readFile(join(dataDir, API_TOKEN_FILE), 'utf8')).trim()
    const cardUrl = `http://127.0.0.1:${port}/.well-known/agent-card.json`
    expect((await fetch(cardUrl)).status).toBe(401)
    expect((await fetch(`http://127.0.0.1:${port}/a2a`, { method: 'POST', body: '{}' })).status).toBe(401)
    const card = await (await fetch(cardUrl, { headers: { authorization: `Bearer ${token}` } })).json() as { securitySchemes: object, supportedInterfaces: Array<{ url: string }> }
    expect(Object.keys(card.securitySchemes)).toEqual(['bearer'])
    expect(card.supportedInterfaces[0]?.url).toBe(`http://127.0.0.1:${port}/a2a`)
  }, 30_000)
})
