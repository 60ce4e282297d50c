import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { ApiClient } from '../node/cli/client.ts'

/**
 * `npm run demo`: a local network to look at. Starts the local stand-in model server and three
 * peerflow nodes as separate processes (temp data dirs, ports picked by the system, loopback only),
 * links them, forms a swarm and keeps work flowing through it, then prints where to watch.
 * Ctrl-C stops every process and removes the temp data.
 */

const PEERFLOW_BIN = fileURLToPath(new URL('../node/bin/peerflow.js', import.meta.url))
const STAND_IN_SERVER = fileURLToPath(new URL('../test/fixtures/anthropic-server-main.ts', import.meta.url))
const SWARM = 'demo'
const STARTUP_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 10_000
/** Slow enough to see tasks run on the dashboard, fast enough to keep the chart busy. */
const MODEL_LATENCY_MS = 600
const WORK_INTERVAL_MS = 4_000

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '3' } } })
const nodeCount = Number(values.nodes)
if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 9) {
  process.stderr.write(`--nodes must be 1 to 9, got '${values.nodes}'\n`)
  process.exit(2)
}

interface DemoNode {
  index: number
  process: ChildProcess
  api: ApiClient
  peerId: string
  quicAddr: string
}

const children: ChildProcess[] = []
let stopping: Promise<void> | undefined

/** Resolves with the first stdout text that `pattern` matches; rejects if the process exits first. */
function waitForOutput (child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => { reject(new Error(`${what} did not start within ${STARTUP_TIMEOUT_MS / 1000} s`)) }, STARTUP_TIMEOUT_MS)
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString()
      const match = pattern.exec(seen)
      if (match === null) return
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      resolve(match)
    }
    child.stdout?.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${code} while starting`)) })
  })
}

function logTo (child: ChildProcess, path: string): void {
  const log = createWriteStream(path)
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
}

async function startStandInModel (root: string): Promise<string> {
  const child = spawn(process.execPath, [STAND_IN_SERVER, '--port', '0', '--latency-ms', String(MODEL_LATENCY_MS)], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const [url] = await waitForOutput(child, /^http:\/\/\S+/m, 'the local stand-in model server')
  logTo(child, join(root, 'stand-in-model.log'))
  return url
}

async function startNode (root: string, index: number, modelUrl: string, bootstrapFile: string): Promise<DemoNode> {
  const dataDir = join(root, `node-${index}`)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const env: NodeJS.ProcessEnv = { ...process.env, ANTHROPIC_BASE_URL: modelUrl, PEERFLOW_LOG_LEVEL: 'warn' }
  // Never the real API from a demo, whatever this shell holds.
  delete env.ANTHROPIC_API_KEY
  delete env.PEERFLOW_API
  const child = spawn(process.execPath, [
    PEERFLOW_BIN, 'start', '--data', dataDir, '--api', '127.0.0.1:0', '--bootstrap-file', bootstrapFile, '--embedder', 'hash',
    '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0'
  ], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const banner = await waitForOutput(child, /peerflow node (\S+)[\s\S]*?control API: http:\/\/(\S+)/, `node ${index}`)
  logTo(child, join(dataDir, 'node.log'))
  child.once('exit', (code, signal) => {
    if (stopping === undefined) process.stdout.write(`node ${index} exited unexpectedly (${signal ?? `code ${code}`}); its log: ${join(dataDir, 'node.log')}\n`)
  })
  const api = new ApiClient(banner[2] as string, undefined)
  const { addresses } = await api.request<{ addresses: string[] }>('GET', '/id')
  const quicAddr = addresses.find((addr) => addr.includes('/quic-v1/'))
  if (quicAddr === undefined) throw new Error(`node ${index} has no QUIC address`)
  return { index, process: child, api, peerId: banner[1] as string, quicAddr }
}

/** Retries `work` until it succeeds: a swarm definition takes a moment to replicate, a leader to be elected. */
async function eventually<T> (what: string, work: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await work()
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`)
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
  }
}

async function hasTaskLayer (node: DemoNode): Promise<boolean> {
  try {
    await node.api.request('GET', '/tasks')
    return true
  } catch (err) {
    if (/^no route /.test((err as Error).message)) return false
    throw err
  }
}

const PROMPTS = [
  'Summarise why CRDTs converge without coordination, in three sentences.',
  'Write a haiku about a leader election that ends in a split vote.',
  'List two risks of running agents at the network edge and one mitigation each.',
  'Explain QUIC connection migration to a new operator in one paragraph.',
  'Suggest a name for a swarm that reviews pull requests.',
  'Give one test idea for a gossip protocol under packet loss.'
]

/** One unit of work: a task when the nodes have a task layer, else a memory entry and a pattern. */
async function addWork (nodes: DemoNode[], round: number, tasks: boolean): Promise<string> {
  const node = nodes[round % nodes.length] as DemoNode
  const prompt = PROMPTS[round % PROMPTS.length] as string
  if (tasks) {
    const task = await node.api.request<{ id: string }>('POST', '/tasks', { body: { swarm: SWARM, prompt } })
    return `node ${node.index} submitted task ${task.id}`
  }
  await node.api.request('POST', '/memory/shared-knowledge', { body: { key: `demo/note-${round}`, value: { prompt, at: new Date().toISOString() } } })
  await node.api.request('POST', '/patterns', { body: { name: `demo-pattern-${round}`, content: prompt, namespace: 'demo', confidence: 0.5 } })
  return `node ${node.index} wrote memory entry demo/note-${round} and pattern demo-pattern-${round}`
}

/** Stops every process; the data goes too unless it is kept for its logs. */
async function stopEverything (root: string, keepData: boolean): Promise<void> {
  await Promise.all(children.map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }))
  if (!keepData) await rm(root, { recursive: true, force: true })
}

async function main (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'peerflow-demo-'))
  let workTimer: NodeJS.Timeout | undefined
  const stop = (signal: string): void => {
    if (stopping !== undefined) {
      for (const child of children) child.kill('SIGKILL')
      process.exit(130)
    }
    process.stdout.write(`\n${signal}: stopping the demo…\n`)
    clearInterval(workTimer)
    stopping = stopEverything(root, false).then(() => {
      process.stdout.write('stopped every process and removed the demo data\n')
      process.exit(0)
    }, (err: unknown) => {
      process.stderr.write(`could not stop cleanly: ${(err as Error).message}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', () => { stop('SIGINT') })
  process.on('SIGTERM', () => { stop('SIGTERM') })

  try {
    process.stdout.write(`starting a ${nodeCount}-node peerflow network on 127.0.0.1 (data in ${root})…\n`)
    const modelUrl = await startStandInModel(root)
    // Only the demo's own nodes: not the bootstrap peers shipped in bootstrap.json.
    const bootstrapFile = join(root, 'no-bootstrap.json')
    await writeFile(bootstrapFile, '[]\n')
    const nodes = await Promise.all(Array.from({ length: nodeCount }, async (_, i) => startNode(root, i + 1, modelUrl, bootstrapFile)))
    const [first, ...others] = nodes as [DemoNode, ...DemoNode[]]
    for (const node of others) await node.api.request('POST', '/join', { body: { multiaddr: first.quicAddr }, timeoutMs: 20_000 })
    await first.api.request('POST', '/swarms', { body: { name: SWARM, topology: 'hierarchical' } })
    for (const node of others) await eventually(`node ${node.index} joining swarm ${SWARM}`, async () => node.api.request('POST', `/swarms/${SWARM}/join`, { body: {} }))
    const tasks = await hasTaskLayer(first)
    for (let round = 0; round < nodes.length * 2; round++) await addWork(nodes, round, tasks)

    const lines = [
      '',
      `local stand-in model: ${modelUrl}`,
      '  a deterministic local stand-in for the Anthropic API, not Claude: no API key is used and nothing leaves this machine',
      '',
      ...nodes.map((node) => `node ${node.index}  ${node.peerId}  dashboard http://${node.api.address}/`),
      '',
      `swarm '${SWARM}' has ${nodes.length} members; ${tasks ? 'new tasks' : 'new memory entries and patterns'} every ${WORK_INTERVAL_MS / 1000} s keep it busy`,
      `watch: open a dashboard URL above, or run: npx peerflow status --watch --api ${first.api.address}`,
      'Ctrl-C stops every process and removes the demo data.',
      ''
    ]
    process.stdout.write(lines.join('\n'))
    let round = nodes.length * 2
    workTimer = setInterval(() => {
      addWork(nodes, round++, tasks).then((line) => { process.stdout.write(`${line}\n`) }, (err: unknown) => {
        process.stdout.write(`work not added: ${(err as Error).message}\n`)
      })
    }, WORK_INTERVAL_MS)
  } catch (err) {
    if (stopping !== undefined) return
    stopping = stopEverything(root, true)
    await stopping
    process.stderr.write(`demo failed: ${(err as Error).message}\nthe logs are in ${root}\n`)
    process.exit(1)
  }
}

await main()
