import { spawn, type ChildProcess } from 'node:child_process'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PEERFLOW_BIN, type NodeProcess } from './helpers/cli.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { nodeProcessesPerTest } from './helpers/node-processes.ts'
import { startAgentNode, startReviewSwarm } from './helpers/process-swarm.ts'

const serve = modelServersPerTest()
const processes = nodeProcessesPerTest()
const cleanups: Array<() => Promise<void>> = []

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN', 'PEERFLOW_API_TOKEN', 'PEERFLOW_MCP_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map(async (cleanup) => { await cleanup() }))
})

interface ToolText { isError?: boolean, content: Array<{ type: string, text?: string }> }

function textOf (result: unknown): string {
  return (result as ToolText).content.map((part) => part.text ?? '').join('')
}

async function stdioClient (api: string): Promise<Client> {
  const client = new Client({ name: 'peerflow-test', version: '1.0.0' })
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [PEERFLOW_BIN, 'mcp', '--api', api], env: { ...process.env } as Record<string, string>, stderr: 'ignore' }))
  cleanups.push(async () => { await client.close() })
  return client
}

/** `peerflow mcp --http 127.0.0.1:0`, resolved with the URL it prints once it listens. */
async function startHttpMcp (api: string, token: string): Promise<string> {
  const child: ChildProcess = spawn(process.execPath, [PEERFLOW_BIN, 'mcp', '--http', '127.0.0.1:0', '--http-token', token, '--api', api], { stdio: ['ignore', 'ignore', 'pipe'] })
  cleanups.push(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  })
  let stderr = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`mcp --http did not start: ${stderr}`)) }, 15_000)
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      const url = /MCP server at (http:\/\/\S+)/.exec(stderr)?.[1]
      if (url !== undefined) { clearTimeout(timer); resolve(url) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`mcp --http exited with ${code}: ${stderr}`)) })
  })
}

describe('peerflow mcp', () => {
  it('over stdio, the official client lists a dozen described tools, stores and reads memory, gets errors as tool errors, and has a task run on another node', async () => {
    const model = await serve()
    const [front, worker] = await startReviewSwarm(processes, model.url)
    const client = await stdioClient(front.api)

    const { tools } = await client.listTools()
    expect(tools.length).toBeGreaterThanOrEqual(6)
    expect(tools.length).toBeLessThanOrEqual(24)
    expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['memory_put', 'memory_get', 'patterns_query', 'task_submit', 'task_wait', 'swarm_status', 'peers']))
    for (const tool of tools) {
      expect(tool.description?.length ?? 0).toBeGreaterThan(20)
      expect(tool.inputSchema.type).toBe('object')
    }
    expect(Object.keys(tools.find((tool) => tool.name === 'memory_put')?.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['namespace', 'key', 'value']))

    const put = await client.callTool({ name: 'memory_put', arguments: { namespace: 'shared-knowledge', key: 'decision', value: { use: 'argon2id' } } })
    expect(put.isError).not.toBe(true)
    const got = await client.callTool({ name: 'memory_get', arguments: { namespace: 'shared-knowledge', key: 'decision' } })
    expect(textOf(got)).toContain('argon2id')

    const missing = await client.callTool({ name: 'memory_get', arguments: { namespace: 'shared-knowledge', key: 'never-written' } })
    expect(missing.isError).toBe(true)
    expect(textOf(missing)).toContain("no entry 'never-written'")
    expect(textOf(missing)).not.toMatch(/\n\s+at /)
    const badSwarm = await client.callTool({ name: 'task_submit', arguments: { swarm: 'no-such-swarm', prompt: 'x' } })
    expect(badSwarm.isError).toBe(true)
    expect(textOf(badSwarm)).not.toMatch(/\n\s+at /)

    const namespaces = await client.readResource({ uri: 'peerflow://memory' })
    expect(JSON.stringify(namespaces.contents)).toContain('shared-knowledge')
    const entries = await client.readResource({ uri: 'peerflow://memory/shared-knowledge' })
    expect(JSON.stringify(entries.contents)).toContain('argon2id')

    const submitted = JSON.parse(textOf(await client.callTool({
      name: 'task_submit', arguments: { swarm: 'review', prompt: 'review the password hashing change', role: 'reviewer' }
    }))) as { id: string }
    const finished = JSON.parse(textOf(await client.callTool({ name: 'task_wait', arguments: { id: submitted.id, timeoutSeconds: 60 } }))) as { state: string, assignee: string, result: string }
    expect(finished.state).toBe('done')
    expect(finished.assignee).toBe(worker.peerId)
    expect(finished.result).toContain('password hashing')
    const task = await client.readResource({ uri: `peerflow://tasks/${submitted.id}` })
    expect(JSON.stringify(task.contents)).toContain(submitted.id)

    // An approval gate decided through MCP: held in input-required, then run once approved.
    const gated = JSON.parse(textOf(await client.callTool({
      name: 'task_submit', arguments: { swarm: 'review', prompt: 'review the session token change', role: 'reviewer', approve: true }
    }))) as { id: string, state: string }
    expect(gated.state).toBe('input-required')
    const decided = await client.callTool({ name: 'task_decide', arguments: { id: gated.id, decision: 'approve', note: 'looks safe' } })
    expect(decided.isError).not.toBe(true)
    const approved = JSON.parse(textOf(await client.callTool({ name: 'task_wait', arguments: { id: gated.id, timeoutSeconds: 60 } }))) as { state: string }
    expect(approved.state).toBe('done')
  }, 120_000)

  it('over Streamable HTTP, refuses a client without the token and a foreign Origin, and serves one with the token', async () => {
    const node = await startAgentNode(processes)
    const token = 'test-mcp-token-123456'
    const url = await startHttpMcp(node.api, token)

    const anonymous = new Client({ name: 'anonymous', version: '1.0.0' })
    await expect(anonymous.connect(new StreamableHTTPClientTransport(new URL(url)))).rejects.toThrow(/401|token/i)
    const wrong = new Client({ name: 'wrong', version: '1.0.0' })
    await expect(wrong.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: 'Bearer nope' } } }))).rejects.toThrow(/401|token/i)

    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'page', version: '1' } } }
    const foreign = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, origin: 'https://evil.example', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(initialize)
    })
    expect(foreign.status).toBe(403)

    const client = new Client({ name: 'with-token', version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
    cleanups.push(async () => { await client.close() })
    const { tools } = await client.listTools()
    expect(tools.map((tool) => tool.name)).toContain('memory_put')
    await client.callTool({ name: 'memory_put', arguments: { namespace: 'shared-knowledge', key: 'over-http', value: 'yes' } })
    expect(textOf(await client.callTool({ name: 'memory_get', arguments: { namespace: 'shared-knowledge', key: 'over-http' } }))).toContain('yes')
  }, 60_000)

  it('--http without any token is a usage error, not an open server', async () => {
    const node = await startAgentNode(processes)
    const emptyDataDir = await processes.dataDir()
    const child = spawn(process.execPath, [PEERFLOW_BIN, 'mcp', '--http', '127.0.0.1:0', '--api', node.api, '--data', emptyDataDir], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).toBe(2)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toContain('needs a bearer token')
  }, 30_000)
})
