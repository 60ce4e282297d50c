import { readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { API_TOKEN_FILE, isLoopbackHost, tokenMatches } from '../node/api/api-token.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { startNodeProcess, type NodeProcess } from './helpers/cli.ts'
import { tempDir, TestNetwork } from './helpers/nodes.ts'

const net = new TestNetwork()
const processes: NodeProcess[] = []
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(processes.splice(0).map(async (child) => { await child.stop('SIGKILL') }))
  await net.cleanup()
  await Promise.all(dirs.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
})

/** The API reached over loopback whatever it is bound to: tests send no traffic beyond 127.0.0.1. */
function loopbackOrigin (apiAddress: string): string {
  return `http://127.0.0.1:${apiAddress.slice(apiAddress.lastIndexOf(':') + 1)}`
}

interface Answer {
  status: number
  body: Record<string, unknown>
}

async function call (node: PeerflowNode | string, path: string, init: { method?: string, headers?: Record<string, string>, body?: unknown } = {}): Promise<Answer> {
  const apiAddress = typeof node === 'string' ? node : node.apiAddress
  const response = await fetch(`${loopbackOrigin(apiAddress)}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(5_000)
  })
  const text = await response.text()
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) as Record<string, unknown> : { text } }
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

describe('control API bound beyond loopback', () => {
  it('answers only requests carrying the bearer token from <dataDir>/api.token', async () => {
    const dataDir = await net.dataDir()
    const node = await net.start({ embedder: 'hash', api: '0.0.0.0:0' }, dataDir)
    expect(node.apiAddress).toMatch(/^0\.0\.0\.0:\d+$/)
    const tokenFile = join(dataDir, API_TOKEN_FILE)
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600)
    const token = (await readFile(tokenFile, 'utf8')).trim()
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)

    const refused = [
      {},
      bearer('wrong'),
      bearer(token.slice(0, -1)),
      bearer(`${token}x`),
      { authorization: token },
      { authorization: `Basic ${Buffer.from(`peerflow:${token}`).toString('base64')}` },
      { authorization: `Bearer ${token} ${token}` }
    ]
    for (const headers of refused) {
      const answer = await call(node, '/status', { headers })
      expect(answer.status, JSON.stringify(headers)).toBe(401)
      expect(answer.body.peerId).toBeUndefined()
    }
    expect((await call(node, `/status?token=${token}`)).status).toBe(401)
    // Every route, read or write, and unknown paths too: nothing tells an outsider what is there.
    expect((await call(node, '/metrics')).status).toBe(401)
    expect((await call(node, '/memory/shared-knowledge/anything')).status).toBe(401)
    expect((await call(node, '/no-such-route')).status).toBe(401)
    const write = await call(node, '/memory/shared-knowledge', { method: 'POST', body: { key: 'planted', value: 'x' } })
    expect(write.status).toBe(401)
    expect(node.memory.get('shared-knowledge', 'planted')).toBeUndefined()

    const status = await call(node, '/status', { headers: bearer(token) })
    expect(status.status).toBe(200)
    expect(status.body.peerId).toBe(node.peerId)
    const stored = await call(node, '/memory/shared-knowledge', { method: 'POST', headers: bearer(token), body: { key: 'allowed', value: 'y' } })
    expect(stored.status).toBe(200)
    expect(node.memory.get('shared-knowledge', 'allowed')?.value).toBe('y')

    // The right token from a foreign web page is still refused.
    const crossOrigin = await call(node, '/status', { headers: { ...bearer(token), origin: 'http://evil.example' } })
    expect(crossOrigin.status).toBe(403)
    expect(crossOrigin.body.peerId).toBeUndefined()

    // The token survives a restart: clients keep working.
    await node.stop()
    const restarted = await net.start({ embedder: 'hash', api: '0.0.0.0:0' }, dataDir)
    expect((await readFile(tokenFile, 'utf8')).trim()).toBe(token)
    expect((await call(restarted, '/status', { headers: bearer(token) })).status).toBe(200)
    expect((await call(restarted, '/status')).status).toBe(401)
  })
})

describe('control API on loopback', () => {
  it('needs no token, writes none, and refuses cross-origin requests', async () => {
    const dataDir = await net.dataDir()
    const node = await net.start({ embedder: 'hash' }, dataDir)
    expect(node.apiAddress).toMatch(/^127\.0\.0\.1:\d+$/)
    await expect(stat(join(dataDir, API_TOKEN_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await call(node, '/status')).body.peerId).toBe(node.peerId)
    expect((await call(node, '/status', { headers: { origin: `http://${node.apiAddress}` } })).status).toBe(200)
    for (const origin of ['http://evil.example', 'null', `http://${node.apiAddress}.evil.example`, `https://${node.apiAddress}`]) {
      expect((await call(node, '/status', { headers: { origin } })).status, origin).toBe(403)
    }
    const write = await call(node, '/memory/shared-knowledge', { method: 'POST', headers: { origin: 'http://evil.example' }, body: { key: 'csrf', value: 'x' } })
    expect(write.status).toBe(403)
    expect(node.memory.get('shared-knowledge', 'csrf')).toBeUndefined()
  })

  // A page on a rebound name (DNS rebinding) talks to the API as same-origin, and browsers send no
  // Origin on same-origin GETs: only the Host header gives it away.
  it('refuses a request whose Host is not its own loopback address (DNS rebinding)', async () => {
    const node = await net.start({ embedder: 'hash' })
    await node.memory.put('shared-knowledge', 'secret', 'classified', { author: node.peerId })
    const port = node.apiAddress.slice(node.apiAddress.lastIndexOf(':') + 1)
    const answer = await new Promise<number>((resolve, reject) => {
      // fetch() does not let a caller set Host; node:http does.
      import('node:http').then(({ request }) => {
        request({ host: '127.0.0.1', port, path: '/memory/shared-knowledge/secret', headers: { host: `rebound.evil.example:${port}` } }, (response) => {
          response.resume()
          resolve(response.statusCode ?? 0)
        }).on('error', reject).end()
      }, reject)
    })
    expect(answer).toBe(403)
  })
})

describe('which API addresses need a token', () => {
  it('trusts loopback literals and localhost only', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopbackHost(host), host).toBe(true)
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.10', '127.example.com', '127.0.0.1.nip.io', '::ffff:127.0.0.1', '']) {
      expect(isLoopbackHost(host), host).toBe(false)
    }
  })

  it('matches the exact token only', () => {
    expect(tokenMatches('abc', 'Bearer abc')).toBe(true)
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Bearer ab', 'Bearer abcd', 'Bearer abc ', ' Bearer abc', 'Token abc', 'Bearer abc\nX: y']) {
      expect(tokenMatches('abc', header), JSON.stringify(header)).toBe(false)
    }
    expect(tokenMatches('', 'Bearer x')).toBe(false)
  })
})

describe('control API robustness', () => {
  it('survives a malformed %-escape in the path, with and without the token', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const child = await startNodeProcess(['--data', dir, '--api', '0.0.0.0:0', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--no-tcp', '--embedder', 'hash'])
    processes.push(child)
    const malformed = '/memory/shared-knowledge/%E0%A4%A'
    expect(await call(child.api, malformed)).toMatchObject({ status: 401 })
    const token = (await readFile(join(dir, 'api.token'), 'utf8')).trim()
    expect(await call(child.api, malformed, { headers: bearer(token) })).toMatchObject({ status: 400 })
    expect(child.child.exitCode).toBe(null)
    expect((await call(child.api, '/status', { headers: bearer(token) })).status).toBe(200)
  }, 30_000)
})
