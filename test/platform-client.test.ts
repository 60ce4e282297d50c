import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { PeerflowError } from '../crdt/peerflow-error.ts'
import { STATUS_OF_KIND } from '../node/api/error-status.ts'
import { ApiError } from '../node/cli/client.ts'
import { connect, PeerflowClient } from '../node/cli/peerflow-client.ts'

/** The typed client against a local HTTP server that answers what each test needs. */

const servers: Server[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (server) => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }))
})

async function serve (answer: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(answer)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function failure (run: () => Promise<unknown>): Promise<PeerflowError> {
  try {
    await run()
  } catch (err) {
    expect(err).toBeInstanceOf(PeerflowError)
    return err as PeerflowError
  }
  throw new Error('expected a failure')
}

describe('the typed client', () => {
  it('maps every error status back to the kind the node raised, with its message', async () => {
    const address = await serve((request, response) => {
      const status = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('status'))
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `failed with ${status}` }))
    })
    const client = new PeerflowClient(address)
    for (const [kind, status] of Object.entries(STATUS_OF_KIND)) {
      const err = await failure(async () => client.api.request('GET', '/x', { query: { status } }))
      expect(err).toBeInstanceOf(ApiError)
      expect([err.kind, (err as ApiError).status, err.message]).toEqual([kind, status, `failed with ${status}`])
    }
    expect((await failure(async () => client.api.request('GET', '/x', { query: { status: 401 } }))).kind).toBe('forbidden')
    expect((await failure(async () => client.api.request('GET', '/x', { query: { status: 500 } }))).kind).toBe('unavailable')
  })

  it('says unreachable when nothing listens, timeout when the node is silent, too-large for an endless reply', async () => {
    const closed = await serve(() => {})
    servers[0]?.closeAllConnections()
    await new Promise((resolve) => servers.shift()?.close(resolve))
    expect((await failure(async () => connect(closed))).kind).toBe('unreachable')

    const silent = await serve(() => {})
    expect((await failure(async () => new PeerflowClient(silent).api.request('GET', '/id', { timeoutMs: 300 }))).kind).toBe('timeout')

    const flood = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(1024 * 1024, 32)
      const push = (): void => {
        while (response.write(chunk)) { /* until the socket pushes back */ }
        response.once('drain', push)
      }
      response.on('close', () => { response.removeAllListeners('drain') })
      push()
    })
    const tooLarge = await failure(async () => new PeerflowClient(flood).status())
    expect(tooLarge.kind).toBe('too-large')
  }, 30_000)

  it('memory.get is undefined for a missing entry; tasks.wait gives up with a timeout error', async () => {
    const address = await serve((request, response) => {
      if (request.url?.startsWith('/memory/')) {
        response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: "no entry 'k' in namespace 'ns'" }))
        return
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 't1', state: 'running', stage: 0, attempts: 1, assignee: null, progress: null }))
    })
    const client = new PeerflowClient(address)
    expect(await client.memory.get('ns', 'k')).toBeUndefined()
    const waited = await failure(async () => client.tasks.wait('t1', { timeoutMs: 400, intervalMs: 50 }))
    expect(waited.kind).toBe('timeout')
    expect(waited.message).toContain('still running')
  })
})
