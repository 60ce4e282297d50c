import { mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { defaults, McpServerConfigSchema, validateConfig, type McpServerConfig } from '../node/config/config.ts'
import { McpServers } from '../node/services/mcp-servers.ts'
import { AgentToolbox } from '../node/services/agent-toolbox.ts'
import { resolveProvider, runAgent, toolAllowed, toolsAllowed } from '../src/agents/index.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { tempDir, TestNetwork, waitFor } from './helpers/nodes.ts'
import { startTaskSwarm, waitForFinished } from './helpers/task-swarm.ts'
import { runCli } from './helpers/cli.ts'
import { nodeProcessesPerTest } from './helpers/node-processes.ts'
import { execFileSync } from 'node:child_process'
import { runDoctor } from '../node/doctor/run-doctor.ts'

/** A data dir that is only named in a config, never created. */
const CONFIG_ONLY_DATA_DIR = join(tmpdir(), 'peerflow-config-only')

const FILESYSTEM_SERVER = fileURLToPath(new URL('../node_modules/@modelcontextprotocol/server-filesystem/dist/index.js', import.meta.url))
const TEST_SERVER = fileURLToPath(new URL('./fixtures/mcp-test-server.ts', import.meta.url))
const serve = modelServersPerTest()
const log = pino({ level: process.env.PEERFLOW_TEST_LOG ?? 'silent' })
const never = new AbortController().signal
const processes = nodeProcessesPerTest()

function childrenOf (pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((line) => Number(line.trim())).filter((n) => n > 0)
  } catch {
    return []
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const running: McpServers[] = []
afterEach(async () => { await Promise.all(running.splice(0).map(async (servers) => { await servers.stop() })) })

function stdio (command: string, args: string[], extra: Partial<McpServerConfig> = {}): McpServerConfig {
  return McpServerConfigSchema.parse({ command, args, ...extra })
}

async function connected (servers: Record<string, McpServerConfig>, firstRetryMs?: number): Promise<McpServers> {
  const mcp = new McpServers(servers, log, firstRetryMs)
  running.push(mcp)
  mcp.start()
  await waitFor('every MCP server up', () => mcp.status().every((server) => server.state === 'up'), 20_000, 50)
  return mcp
}

/** The tool_result blocks the model was sent in its latest request. */
function toolResultsSent (body: unknown): Array<{ content: string, is_error?: boolean }> {
  const messages = (body as { messages: Array<{ role: string, content: unknown }> }).messages
  const last = messages.at(-1)?.content
  return Array.isArray(last) ? last.filter((block: { type: string }) => block.type === 'tool_result') : []
}

describe('MCP servers in the node config', () => {
  it('takes Claude\'s mcpServers shape and lifts agents.<role> settings beside the node-wide ones', () => {
    const config = validateConfig({
      ...defaults(CONFIG_ONLY_DATA_DIR),
      mcpServers: { fs: { command: 'npx', args: ['@modelcontextprotocol/server-filesystem', '/srv'] }, search: { url: 'http://127.0.0.1:9000/mcp' } },
      agents: { ...defaults(CONFIG_ONLY_DATA_DIR).agents, reviewer: { tools: ['fs__read_file', 'workspace__*'] } }
    })
    expect(config.mcpServers.fs).toMatchObject({ command: 'npx', env: {}, timeoutMs: 60_000 })
    expect(config.mcpServers.search?.url).toBe('http://127.0.0.1:9000/mcp')
    expect(config.agents.roles.reviewer?.tools).toEqual(['fs__read_file', 'workspace__*'])
    expect(config.agents.maxConcurrent).toBe(2)
  })

  it('refuses a server with both or neither of command and url, and names that break <server>__<tool>', () => {
    const base = defaults(CONFIG_ONLY_DATA_DIR)
    expect(() => validateConfig({ ...base, mcpServers: { a: { command: 'x', url: 'http://127.0.0.1:1/mcp' } } })).toThrow(/mcpServers\.a: give either command/)
    expect(() => validateConfig({ ...base, mcpServers: { a: {} } })).toThrow(/give either command/)
    expect(() => validateConfig({ ...base, mcpServers: { a__b: { command: 'x' } } })).toThrow(/double underscore/)
    expect(() => validateConfig({ ...base, mcpServers: { workspace: { command: 'x' } } })).toThrow(/name of the built-in workspace tools/)
    expect(() => validateConfig({ ...base, mcpServers: { a: { url: 'file:///etc/passwd' } } })).toThrow(/http\(s\) URL/)
    expect(() => validateConfig({ ...base, agents: { ...base.agents, reviewer: { tools: 'fs__*' } } })).toThrow(/agents\.roles\.reviewer\.tools/)
  })

  it('exposes a tool to a role only when one of its glob patterns names it', () => {
    expect(toolAllowed('fs__read_file', ['fs__*'])).toBe(true)
    expect(toolAllowed('fs__read_file', ['fs__read_*'])).toBe(true)
    expect(toolAllowed('fs__write_file', ['fs__read_*'])).toBe(false)
    expect(toolAllowed('fs__read_file', [])).toBe(false)
    expect(toolAllowed('search__find', ['fs__*', 'workspace__*'])).toBe(false)
  })
})

describe('the node as an MCP client', () => {
  it('an agent calls a tool of the real filesystem MCP server over stdio and the result reaches the model', async () => {
    const repo = await tempDir()
    await writeFile(join(repo, 'notes.txt'), 'the retry limit is 7\n')
    const mcp = await connected({ fs: stdio(process.execPath, [FILESYSTEM_SERVER, repo]) })
    const names = mcp.tools().map((tool) => tool.name)
    expect(names).toEqual(expect.arrayContaining(['fs__read_text_file', 'fs__list_directory', 'fs__write_file']))

    const toolbox = new AgentToolbox([], mcp, () => ({ reviewer: ['fs__read_*'] }))
    expect(toolbox.forRole('coder')).toEqual([])
    const tools = toolbox.forRole('reviewer')
    expect(tools.map((tool) => tool.name)).toContain('fs__read_text_file')
    expect(tools.map((tool) => tool.name)).not.toContain('fs__write_file')

    const model = await serve()
    model.script(
      { kind: 'reply', toolUses: [{ name: 'fs__read_text_file', input: { path: join(repo, 'notes.txt') } }] },
      { kind: 'reply', text: 'The limit is 7.' }
    )
    const result = await runAgent({ role: 'reviewer', prompt: 'What is the retry limit?', tools, provider: resolveProvider({ baseURL: model.url, apiKey: 'k' }, {}) })
    expect(result.status).toBe('done')
    expect(result.text).toBe('The limit is 7.')
    const offered = (model.requests[0]?.body as { tools: Array<{ name: string }> }).tools.map((tool) => tool.name)
    expect(offered).toContain('fs__read_text_file')
    expect(offered).not.toContain('fs__write_file')
    expect(toolResultsSent(model.requests[1]?.body)).toEqual([expect.objectContaining({ content: 'the retry limit is 7\n', is_error: false })])
  })

  it('a server crashing during a call gives the model a clear tool error, refuses calls while down, and comes back', async () => {
    // A long first pause, so the call right after the crash surely finds the server down even on a loaded machine.
    const mcp = await connected({ t: stdio(process.execPath, [TEST_SERVER]) }, 3_000)
    const toolbox = new AgentToolbox([], mcp, () => ({ tester: ['t__*'] }))
    const model = await serve()
    model.script(
      { kind: 'reply', toolUses: [{ name: 't__crash', input: {} }] },
      { kind: 'reply', toolUses: [{ name: 't__echo', input: { text: 'hi' } }] },
      { kind: 'reply', text: 'noted' }
    )
    const result = await runAgent({ role: 'tester', prompt: 'try the tools', tools: toolbox.forRole('tester'), provider: resolveProvider({ baseURL: model.url, apiKey: 'k' }, {}) })
    expect(result.status).toBe('done')
    const [crashed] = toolResultsSent(model.requests[1]?.body)
    expect(crashed).toMatchObject({ is_error: true })
    expect(crashed?.content).toMatch(/MCP server 't' went down during the call to 'crash' \(the server process exited.*crashing on request.*\); it is being restarted/)
    // The next call comes right after, within the first restart pause: refused at once with the reason.
    const [refused] = toolResultsSent(model.requests[2]?.body)
    expect(refused).toMatchObject({ is_error: true })
    expect(refused?.content).toMatch(/MCP server 't' is down \(the server process exited.*\), so 'echo' cannot run now; next restart in \d+ s/)

    await waitFor('the server restarted', () => mcp.status()[0]?.state === 'up', 20_000, 50)
    expect(mcp.status()[0]?.restarts).toBe(1)
    const echo = mcp.tools().find((tool) => tool.name === 't__echo')
    expect(await echo?.run({ text: 'again' }, { signal: never, role: 'tester', turn: 1 })).toBe('echo: again')
  })

  it('a call that takes longer than the server\'s timeoutMs fails with a timeout, and an error result stays an error', async () => {
    const mcp = await connected({ t: stdio(process.execPath, [TEST_SERVER], { timeoutMs: 300 }) })
    const ctx = { signal: never, role: 'tester', turn: 1 }
    const slow = mcp.tools().find((tool) => tool.name === 't__slow')
    const started = Date.now()
    await expect(slow?.run({ ms: 5_000 }, ctx)).rejects.toThrow("MCP tool 'slow' of server 't' did not answer within 300 ms")
    expect(Date.now() - started).toBeLessThan(4_000)
    await expect(mcp.tools().find((tool) => tool.name === 't__fail')?.run({}, ctx)).rejects.toThrow('the thing is broken')
  })

  it('rereads the tool list when the server says it changed', async () => {
    const mcp = await connected({ t: stdio(process.execPath, [TEST_SERVER]) })
    expect(mcp.tools().map((tool) => tool.name)).not.toContain('t__added_1')
    await mcp.tools().find((tool) => tool.name === 't__grow')?.run({}, { signal: never, role: 'tester', turn: 1 })
    await waitFor('the new tool listed', () => mcp.tools().some((tool) => tool.name === 't__added_1'), 10_000, 50)
  })

  it('a server that cannot start is reported down with the reason and retried', async () => {
    const mcp = new McpServers({ gone: stdio(process.execPath, [join(await tempDir(), 'missing.js')]) }, log)
    running.push(mcp)
    mcp.start()
    await waitFor('reported down', () => mcp.status()[0]?.state === 'down', 20_000, 50)
    expect(mcp.status()[0]?.error).toMatch(/the server process exited|could not start/)
    await waitFor('retried', () => (mcp.status()[0]?.restarts ?? 0) >= 1, 20_000, 50)
  })

  it('reaches a Streamable HTTP server by url', async () => {
    const { spawn } = await import('node:child_process')
    const child = spawn(process.execPath, [TEST_SERVER, 'http'], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      const port = await new Promise<string>((resolve) => { child.stdout.once('data', (chunk: Buffer) => { resolve(chunk.toString().trim()) }) })
      const mcp = await connected({ remote: McpServerConfigSchema.parse({ url: `http://127.0.0.1:${port}/mcp` }) })
      const echo = mcp.tools().find((tool) => tool.name === 'remote__echo')
      expect(await echo?.run({ text: 'over http' }, { signal: never, role: 'tester', turn: 1 })).toBe('echo: over http')
    } finally {
      child.kill()
    }
  })
})

describe('a node with mcpServers', () => {
  const net = new TestNetwork()
  afterEach(async () => { await net.cleanup() })

  it('runs a task whose agent reads a file through the filesystem server the node started', async () => {
    const repo = await tempDir()
    await mkdir(join(repo, 'src'))
    await writeFile(join(repo, 'src', 'a.ts'), 'export const answer = 42\n')
    const model = await serve()
    model.script(
      { kind: 'reply', toolUses: [{ name: 'fs__read_text_file', input: { path: join(repo, 'src', 'a.ts') } }] },
      { kind: 'reply', text: 'answer is 42' }
    )
    const [node] = await startTaskSwarm(net, {
      topology: 'hierarchical',
      size: 1,
      baseUrl: model.url,
      configs: [{
        mcpServers: { fs: stdio(process.execPath, [FILESYSTEM_SERVER, repo]) },
        agents: { roles: { reviewer: { tools: ['fs__*'] } } }
      }]
    })
    if (node === undefined) throw new Error('no node')
    await waitFor('fs server up', () => node.mcp.status()[0]?.state === 'up', 20_000, 50)
    const catalog = node.toolbox.catalog()
    expect(catalog.servers[0]?.tools.find((tool) => tool.name === 'fs__read_text_file')).toMatchObject({ tool: 'read_text_file', roles: ['reviewer'] })
    const submitted = await node.tasks.submit({ swarm: 'work', prompt: 'review src/a.ts', role: 'reviewer' })
    const [report] = await waitForFinished([node], [submitted.id])
    expect(report?.state).toBe('done')
    expect(report?.result).toBe('answer is 42')
    expect(toolResultsSent(model.requests[1]?.body)).toEqual([expect.objectContaining({ content: 'export const answer = 42\n', is_error: false })])
    await node.stop()
  })
})

describe('peerflow tools list', () => {
  it('a node process lists the filesystem server tools by server with their roles, and stops the server with itself', async () => {
    const dir = await processes.dataDir()
    const repo = await tempDir()
    await writeFile(join(dir, 'peerflow.json'), JSON.stringify({
      mcpServers: { fs: { command: process.execPath, args: [FILESYSTEM_SERVER, repo] } },
      agents: { reviewer: { tools: ['fs__*'] }, coder: { tools: ['fs__read_text_file'] } }
    }))
    const node = await processes.start(dir)
    let catalog: { servers: Array<{ name: string, state: string, tools: Array<{ name: string, roles: string[], inputSchema: object }> }> } = { servers: [] }
    await waitFor('fs tools listed', async () => {
      const listed = await runCli(['tools', 'list', '--json', '--api', node.api])
      expect(listed.code).toBe(0)
      catalog = JSON.parse(listed.stdout)
      return catalog.servers[0]?.state === 'up'
    }, 30_000, 300)
    const fs = catalog.servers[0]
    expect(fs?.name).toBe('fs')
    expect(fs?.tools.find((tool) => tool.name === 'fs__read_text_file')).toMatchObject({ roles: ['coder', 'reviewer'], inputSchema: { type: 'object' } })
    expect(fs?.tools.find((tool) => tool.name === 'fs__write_file')?.roles).toEqual(['reviewer'])
    const text = await runCli(['tools', 'list', '--api', node.api])
    expect(text.stdout).toMatch(/^fs \(stdio .*\): up$/m)
    expect(text.stdout).toMatch(/^ {2}fs__write_file\(path, content\) {2}— reviewer$/m)

    const servers = childrenOf(node.child.pid ?? 0)
    expect(servers.length).toBe(1)
    expect(await node.stop('SIGTERM')).toBe(0)
    await waitFor('the MCP server process gone', () => servers.every((pid) => !alive(pid)), 10_000, 100)
  })
})

describe('peerflow doctor', () => {
  it('checks each configured MCP server: one that answers with its tools, one that does not start', async () => {
    const dir = await processes.dataDir()
    const repo = await tempDir()
    await writeFile(join(dir, 'peerflow.json'), JSON.stringify({
      api: '127.0.0.1:1',
      mcpServers: { fs: { command: process.execPath, args: [FILESYSTEM_SERVER, repo] }, broken: { command: process.execPath, args: [join(repo, 'nope.js')] } },
      agents: { reviewer: { tools: ['fs__*'] } }
    }))
    const report = await runDoctor({ dataDir: dir, env: {}, probeTimeoutMs: 500 })
    const fs = report.checks.find((check) => check.name === 'MCP server fs')
    const broken = report.checks.find((check) => check.name === 'MCP server broken')
    expect(fs).toMatchObject({ ok: true, detail: expect.stringMatching(/: 14 tools; for reviewer$/) })
    expect(broken).toMatchObject({ ok: false, detail: expect.stringMatching(/nope\.js: (the server process exited|could not start)/) })
  })
})
