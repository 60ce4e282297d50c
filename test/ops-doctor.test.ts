import { createServer, type Server } from 'node:net'
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runDoctor, formatDoctorReport, type DoctorReport } from '../node/doctor/run-doctor.ts'
import { NATIVE_ADDONS } from '../node/doctor/native-addons.ts'
import { startAnthropicServer, type AnthropicServer } from './fixtures/anthropic-server.ts'
import { runCli, startNodeProcess, type NodeProcess } from './helpers/cli.ts'
import { tempDir } from './helpers/nodes.ts'

const dirs: string[] = []
const servers: Server[] = []
const processes: NodeProcess[] = []
let model: AnthropicServer | undefined

afterEach(async () => {
  await Promise.all(processes.splice(0).map(async (p) => { await p.stop('SIGKILL') }))
  await Promise.all(servers.splice(0).map(async (server) => new Promise((resolve) => server.close(resolve))))
  await model?.close()
  model = undefined
  await Promise.all(dirs.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
})

/** A port held by a listening TCP server for the rest of the test. */
async function heldPort (): Promise<number> {
  const server = createServer()
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

/** A data dir whose peerflow.json keeps every port ephemeral (and the API on one nothing answers). */
async function dataDir (config: Record<string, unknown> = {}): Promise<string> {
  const dir = await tempDir('peerflow-doctor-')
  dirs.push(dir)
  const api = `127.0.0.1:${await heldPort()}`
  servers.pop()?.close()
  await writeFile(join(dir, 'peerflow.json'), JSON.stringify({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1', '/ip4/127.0.0.1/tcp/0'], api, ...config }))
  return dir
}

function check (report: DoctorReport, name: string): DoctorReport['checks'][number] {
  const found = report.checks.find((c) => c.name === name)
  if (found === undefined) throw new Error(`no check named '${name}' in: ${report.checks.map((c) => c.name).join(', ')}`)
  return found
}

describe('peerflow doctor', () => {
  it('loads the real native addons, and fails a missing one with its fix', async () => {
    const missing = { module: 'peerflow-no-such-addon', purpose: 'a test of the addon check', fix: 'install peerflow-no-such-addon' }
    const report = await runDoctor({ dataDir: await dataDir(), env: {}, addons: [...NATIVE_ADDONS, missing] })
    for (const addon of NATIVE_ADDONS) expect(check(report, `native addon ${addon.module}`)).toMatchObject({ ok: true })
    expect(check(report, 'native addon peerflow-no-such-addon')).toMatchObject({ ok: false, detail: 'not installed (a test of the addon check)', hint: missing.fix })
    expect(report.ok).toBe(false)
    const text = formatDoctorReport(report)
    expect(text).toMatch(/^✗ native addon peerflow-no-such-addon +not installed/m)
    expect(text).toMatch(/^ +fix: install peerflow-no-such-addon$/m)
    expect(text).toMatch(/^✓ native addon hnswlib-node/m)
    expect(check(report, 'native addon int8 HNSW')).toMatchObject({ ok: true, detail: expect.stringMatching(/kernel/) })
  })

  it('fails the port check when another program holds a configured port', async () => {
    const port = await heldPort()
    const report = await runDoctor({ dataDir: await dataDir({ listen: [`/ip4/127.0.0.1/tcp/${port}`] }), env: {} })
    const ports = check(report, 'ports')
    expect(ports.ok).toBe(false)
    expect(ports.detail).toContain(`TCP /ip4/127.0.0.1/tcp/${port}: already in use by another program`)
    expect(ports.hint).toMatch(/--listen/)
  })

  it('passes the port check when the configured ports are free', async () => {
    const port = await heldPort()
    servers.pop()?.close()
    const report = await runDoctor({ dataDir: await dataDir({ listen: [`/ip4/127.0.0.1/tcp/${port}`] }), env: {} })
    expect(check(report, 'ports')).toMatchObject({ ok: true })
  })

  it('fails the key check for a key file other users can read, and names the chmod', async () => {
    const dir = await dataDir()
    const key = join(dir, 'identity.key')
    await writeFile(key, 'not checked for content here')
    await chmod(key, 0o644)
    const report = await runDoctor({ dataDir: dir, env: {} })
    const keys = check(report, 'key file permissions')
    expect(keys.ok).toBe(false)
    expect(keys.detail).toContain(`${key} has mode 644`)
    expect(keys.hint).toBe(`run: chmod 600 ${key}`)
    await chmod(key, 0o600)
    expect(check(await runDoctor({ dataDir: dir, env: {} }), 'key file permissions')).toMatchObject({ ok: true })
  })

  it('fails the model check with no provider, and passes it once the endpoint answers a one-token request', async () => {
    const dir = await dataDir()
    const none = check(await runDoctor({ dataDir: dir, env: {} }), 'model provider')
    expect(none.ok).toBe(false)
    expect(none.detail).toMatch(/not configured/)
    expect(none.hint).toMatch(/ANTHROPIC_API_KEY/)
    expect(none.hint).toMatch(/ANTHROPIC_BASE_URL/)

    model = await startAnthropicServer()
    const answered = check(await runDoctor({ dataDir: dir, env: { ANTHROPIC_BASE_URL: model.url } }), 'model provider')
    expect(answered).toMatchObject({ ok: true })
    expect(answered.detail).toContain(`${model.url} answered`)
    const probe = model.requests.find((request) => request.path === '/v1/messages')
    expect((probe?.body as { max_tokens?: number } | undefined)?.max_tokens).toBe(1)

    model.script({ kind: 'server_error', times: Infinity })
    const failing = check(await runDoctor({ dataDir: dir, env: { ANTHROPIC_BASE_URL: model.url } }), 'model provider')
    expect(failing.ok).toBe(false)
    expect(failing.detail).toContain('HTTP 500')
  })

  it('reports a data dir that is a file, without crashing the other checks', async () => {
    const parent = await tempDir('peerflow-doctor-')
    dirs.push(parent)
    const file = join(parent, 'not-a-dir')
    await writeFile(file, '')
    const report = await runDoctor({ dataDir: file, env: {} })
    expect(check(report, 'data dir')).toMatchObject({ ok: false })
    expect(check(report, 'Node.js version')).toMatchObject({ ok: true })
  })

  it('asks a running node over --api, as `peerflow doctor` on the command line', async () => {
    const dir = await tempDir('peerflow-doctor-')
    dirs.push(dir)
    await mkdir(join(dir, 'node'))
    const node = await startNodeProcess(['--data', join(dir, 'node'), '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0', '--embedder', 'hash'])
    processes.push(node)
    const noProvider = { ANTHROPIC_API_KEY: '', ANTHROPIC_BASE_URL: '' }
    const text = await runCli(['doctor', '--api', node.api], noProvider)
    expect(text.code).toBe(1)
    expect(text.stdout).toContain(`node ${node.peerId} at ${node.api}`)
    expect(text.stdout).toMatch(/^✓ ports +held by the running node/m)
    expect(text.stdout).toMatch(/^✗ model provider +not configured/m)

    model = await startAnthropicServer()
    const json = await runCli(['doctor', '--api', node.api, '--json'], { ...noProvider, ANTHROPIC_BASE_URL: model.url })
    const report = JSON.parse(json.stdout) as DoctorReport
    expect(report.node).toEqual({ api: node.api, peerId: node.peerId })
    expect(check(report, 'model provider')).toMatchObject({ ok: true })
    expect(check(report, 'clock').detail).toContain(`the node at ${node.api}`)
    expect(json.code).toBe(report.ok ? 0 : 1)

    const gone = await runCli(['doctor', '--api', '127.0.0.1:1', '--data', join(dir, 'node')], noProvider)
    expect(gone.code).toBe(1)
    expect(gone.stdout).toMatch(/^✗ running node +127\.0\.0\.1:1: no peerflow node answering/m)
  })
})
