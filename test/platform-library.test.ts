import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { runProcess, type CliResult } from './helpers/cli.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { nodeProcessesPerTest } from './helpers/node-processes.ts'
import { startAgentNode, startReviewSwarm } from './helpers/process-swarm.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'node_modules', '.bin')
const serve = modelServersPerTest()
const processes = nodeProcessesPerTest()
const dirs: string[] = []

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN', 'PEERFLOW_API', 'PEERFLOW_API_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
})

async function run (command: string, args: string[], cwd = ROOT, timeoutMs = 60_000): Promise<CliResult> {
  return runProcess(command, args, { cwd, env: { ...process.env, PATH: `${BIN}:${process.env.PATH ?? ''}` }, timeoutMs })
}

/** A project next to this one that depends on it, as `npm install <path>` would link it. */
async function consumerProject (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'peerflow-consumer-'))
  dirs.push(dir)
  await mkdir(join(dir, 'node_modules'))
  await symlink(ROOT, join(dir, 'node_modules', 'peerflow'))
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
    include: ['*.ts']
  }))
  return dir
}

const CONSUMER = `import { connect, PeerflowError, type TaskReport } from 'peerflow'

export async function use (address: string): Promise<string> {
  const pf = await connect(address, { token: undefined })
  const entry = await pf.memory.put('shared-knowledge', 'k', { v: 1 })
  const back = await pf.memory.get('shared-knowledge', entry.key)
  const last: TaskReport[] = []
  if (back === undefined) throw new PeerflowError('not-found', 'gone')
  const hits = await pf.patterns.query({ question: 'prevent injection', minConfidence: 0.8 })
  return \`\${back.author} \${hits.embedder} \${last.length}\`
}
`

describe('the peerflow library', () => {
  it('examples/library-memory.ts starts two nodes in-process and reads back a replicated write', async () => {
    const result = await run(process.execPath, ['examples/library-memory.ts'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/joined 12D3Koo\S+ over quic/)
    expect(result.stdout).toContain('read on 12D3Koo')
    expect(result.stdout).toContain('"use":"argon2id"')
  }, 60_000)

  it('examples/library-task.ts has a swarm run a task on another node, watches it to the end and finds the lesson by meaning', async () => {
    const model = await serve()
    const [front, worker] = await startReviewSwarm(processes, model.url)
    const result = await run(process.execPath, ['examples/library-task.ts', '--api', front.api, '--swarm', 'review', '--role', 'reviewer', 'check the login form for injection'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/^submitted \S+ to review$/m)
    expect(result.stdout).toContain(`done on ${worker.peerId}`)
    expect(result.stdout).toMatch(/^result: .*login form/m)
    expect(result.stdout).toMatch(/^patterns: lesson-/m)

    const bad = await run(process.execPath, ['examples/library-task.ts', '--api', front.api, '--swarm', 'no-such-swarm', 'x'])
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toContain('library-task: ')
  }, 90_000)

  it("builds: a consumer type-checks against the published .d.ts (and a misuse does not), and import('peerflow') talks to a node", async () => {
    const build = await run('npm', ['run', 'build', '--silent'], ROOT, 120_000)
    expect(build.code, build.stderr + build.stdout).toBe(0)
    const consumer = await consumerProject()
    await writeFile(join(consumer, 'consumer.ts'), CONSUMER)
    const good = await run(join(BIN, 'tsc'), ['-p', 'tsconfig.json'], consumer)
    expect(good.code, good.stdout).toBe(0)

    await writeFile(join(consumer, 'misuse.ts'), "import { connect } from 'peerflow'\nconst pf = await connect()\nawait pf.memory.put('shared-knowledge')\nexport {}\n")
    const misuse = await run(join(BIN, 'tsc'), ['-p', 'tsconfig.json'], consumer)
    expect(misuse.code).not.toBe(0)
    expect(misuse.stdout).toContain('misuse.ts')

    const node = await startAgentNode(processes)
    const script = `const { connect, startNode, PeerflowError } = await import('peerflow')
const pf = await connect(${JSON.stringify(node.api)})
await pf.memory.put('shared-knowledge', 'from-dist', 42)
let kind = ''
try { await pf.tasks.show('no-such-task') } catch (err) { kind = err instanceof PeerflowError ? err.kind : 'untyped' }
console.log(typeof startNode, (await pf.memory.get('shared-knowledge', 'from-dist')).value, kind)`
    const imported = await run(process.execPath, ['--input-type=module', '-e', script], consumer)
    expect(imported.code, imported.stderr).toBe(0)
    expect(imported.stdout.trim()).toBe('function 42 not-found')
  }, 180_000)
})
