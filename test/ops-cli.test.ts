import { spawn, type ChildProcess } from 'node:child_process'
import { access, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { PEERFLOW_BIN, runCli, startNodeProcess, type NodeProcess } from './helpers/cli.ts'
import { tempDir, waitFor } from './helpers/nodes.ts'

const DEMO = fileURLToPath(new URL('../examples/local-demo.ts', import.meta.url))
const LISTEN = ['--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0']
const processes: NodeProcess[] = []
const children: ChildProcess[] = []
const dirs: string[] = []

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await Promise.all(processes.splice(0).map(async (p) => { await p.stop('SIGKILL') }))
  await Promise.all(dirs.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
})

/** A child process whose stdout is collected as it arrives. */
function launch (args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess, output: () => string, exited: Promise<number | null> } {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => output, exited }
}

describe('peerflow status --watch', () => {
  it('redraws the overview every second and quits on Ctrl-C with exit 0', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const node = await startNodeProcess(['--data', dir, '--api', '127.0.0.1:0', '--embedder', 'hash', ...LISTEN])
    processes.push(node)
    const watch = launch([PEERFLOW_BIN, 'status', '--watch', '--api', node.api])
    await waitFor('two frames drawn', () => watch.output().split('PEERS (').length > 2, 10_000)
    const frame = watch.output()
    expect(frame).toContain(node.peerId)
    expect(frame).toMatch(/^SWARMS \(0\)$/m)
    expect(frame).toMatch(/^MEMORY$/m)
    expect(frame).toMatch(/^shared-knowledge +0 /m)
    expect(frame).toMatch(/^TASKS/m)
    watch.child.kill('SIGINT')
    expect(await watch.exited).toBe(0)
  })

  it('refuses --json, which would not be one document', async () => {
    const result = await runCli(['status', '--watch', '--json', '--api', '127.0.0.1:1'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--watch draws a live view/)
  })
})

describe('npm run demo', () => {
  it('starts nodes and the local stand-in model, forms a swarm with work in it, and cleans up on Ctrl-C', async () => {
    const demo = launch([DEMO, '--nodes', '2'], { ANTHROPIC_API_KEY: '', ANTHROPIC_BASE_URL: '' })
    await waitFor('the demo to print where to watch', () => /Ctrl-C stops every process/.test(demo.output()), 60_000, 100)
    const output = demo.output()
    expect(output).toMatch(/local stand-in model: http:\/\/127\.0\.0\.1:\d+/)
    expect(output).toMatch(/not Claude/)
    const root = /data in (\S+?)\)/.exec(output)?.[1] as string
    const apis = [...output.matchAll(/^node \d+ +\S+ +dashboard http:\/\/(127\.0\.0\.1:\d+)\/$/gm)].map((m) => m[1] as string)
    expect(apis).toHaveLength(2)

    const page = await (await fetch(`http://${apis[0]}/`)).text()
    expect(page).toMatch(/<html/)
    const overview = await (await fetch(`http://${apis[1]}/overview`)).json() as {
      peers: unknown[]
      swarms: Array<{ name: string, members: unknown[] }>
      tasks: { recent: unknown[] } | null
      memory: Array<{ name: string, entries: number }>
    }
    expect(overview.peers).toHaveLength(1)
    expect(overview.swarms.find((swarm) => swarm.name === 'demo')?.members).toHaveLength(2)
    if (overview.tasks === null) expect(overview.memory.find((ns) => ns.name === 'shared-knowledge')?.entries).toBeGreaterThan(0)
    else expect(overview.tasks.recent.length).toBeGreaterThan(0)

    demo.child.kill('SIGINT')
    expect(await demo.exited).toBe(0)
    expect(demo.output()).toMatch(/stopped every process and removed the demo data/)
    await expect(access(root)).rejects.toThrow()
    for (const api of apis) await expect(fetch(`http://${api}/status`)).rejects.toThrow()
  })
})
