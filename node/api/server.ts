import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Logger } from '../core/logger.ts'
import type { PeerflowNode } from '../core/peerflow-node.ts'
import { isLoopbackHost, loadOrCreateApiToken, tokenMatches } from './api-token.ts'
import { statusOf } from './error-status.ts'
import { pipeline } from 'node:stream/promises'
import { readJsonBody } from './json-body.ts'
import { ByteStreamResponse, HttpError, RawResponse, StreamingResponse, type Route } from './route.ts'


export class ApiListenError extends Error {
  override name = 'ApiListenError'
}

interface CompiledRoute {
  route: Route
  segments: string[]
}

function match (compiled: CompiledRoute, method: string, parts: string[]): Record<string, string> | undefined {
  if (compiled.route.method !== method || compiled.segments.length !== parts.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < parts.length; i++) {
    const segment = compiled.segments[i] as string
    const part = parts[i] as string
    if (segment.startsWith(':')) {
      try {
        params[segment.slice(1)] = decodeURIComponent(part)
      } catch {
        throw new HttpError(400, `malformed %-escape in the path segment '${part.slice(0, 80)}'`)
      }
    }
    else if (segment !== part) return undefined
  }
  return params
}


function send (response: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload ?? null)
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
  response.end(body)
}

/** The control API: JSON over HTTP, one small file per route (see ./routes). */
export class ApiServer {
  readonly #routes: CompiledRoute[]
  readonly #node: PeerflowNode
  readonly #log: Logger
  #server: Server | undefined
  readonly #closing = new AbortController()
  /** Required as a bearer token when the API is reachable beyond loopback. */
  #token: string | undefined
  #origin = ''
  /** Host headers a loopback API answers; anything else is a DNS-rebinding page in a browser. */
  #allowedHosts = new Set<string>()

  constructor (node: PeerflowNode, routes: Route[], log: Logger) {
    this.#node = node
    this.#log = log
    this.#routes = routes.map((route) => ({ route, segments: route.path.split('/').filter(Boolean) }))
  }

  async listen (address: string, dataDir: string): Promise<string> {
    const separator = address.lastIndexOf(':')
    const host = address.slice(0, separator).replace(/^\[|\]$/g, '')
    const port = Number(address.slice(separator + 1))
    if (!isLoopbackHost(host)) {
      this.#token = await loadOrCreateApiToken(dataDir)
      this.#log.warn({ address }, 'control API reachable beyond loopback: requests need the bearer token in api.token')
    }
    const server = createServer((request, response) => { void this.#dispatch(request, response) })
    server.headersTimeout = 10_000
    server.requestTimeout = 0
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new ApiListenError(err.code === 'EADDRINUSE'
          ? `control API address ${address} is already in use: choose another with --api, or stop the node using it`
          : `cannot serve the control API on ${address}: ${err.message}`))
      })
      server.listen(port, host, () => resolve())
    })
    this.#server = server
    const bound = server.address()
    const actual = typeof bound === 'object' && bound !== null ? `${host.includes(':') ? `[${host}]` : host}:${bound.port}` : address
    this.#origin = `http://${actual}`
    const boundPort = actual.slice(actual.lastIndexOf(':') + 1)
    if (this.#token === undefined) this.#allowedHosts = new Set([actual, `localhost:${boundPort}`, `127.0.0.1:${boundPort}`, `[::1]:${boundPort}`])
    return actual
  }

  async close (): Promise<void> {
    this.#closing.abort()
    const server = this.#server
    if (server === undefined) return
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }

  async #dispatch (request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET'
    let path = request.url ?? '/'
    try {
      const url = new URL(path, 'http://localhost')
      path = url.pathname
      const parts = url.pathname.split('/').filter(Boolean)
      // A web page elsewhere must not drive the node through the user's browser: no CORS, a
      // cross-origin request is refused outright, and so is a foreign Host (DNS rebinding).
      if (this.#allowedHosts.size > 0 && !this.#allowedHosts.has(request.headers.host ?? '')) {
        throw new HttpError(403, `unexpected Host header '${request.headers.host ?? ''}': the control API answers only on its own address`)
      }
      const origin = request.headers.origin
      if (origin !== undefined && origin !== this.#origin) throw new HttpError(403, `cross-origin requests are refused (origin ${origin})`)
      if (this.#token !== undefined && !tokenMatches(this.#token, request.headers.authorization)) {
        throw new HttpError(401, 'missing or wrong bearer token: see api.token in the data dir (PEERFLOW_API_TOKEN for the CLI)')
      }
      let found: { route: Route, params: Record<string, string> } | undefined
      for (const compiled of this.#routes) {
        const params = match(compiled, method, parts)
        if (params !== undefined) { found = { route: compiled.route, params }; break }
      }
      if (found === undefined) throw new HttpError(404, `no route ${method} ${path}`)
      const signal = AbortSignal.any([this.#closing.signal, abortOnClose(response)])
      const body = found.route.rawBody === true || method === 'GET' || method === 'HEAD' ? undefined : await readJsonBody(request)
      const result = await found.route.handle({ node: this.#node, params: found.params, query: url.searchParams, body, headers: request.headers, signal, request })
      if (result instanceof RawResponse) {
        response.writeHead(200, { 'content-type': result.contentType, 'cache-control': 'no-store' })
        response.end(result.body)
      } else if (result instanceof ByteStreamResponse) {
        response.writeHead(200, { 'content-type': result.contentType, 'content-length': String(result.size), 'cache-control': 'no-store' })
        await pipeline(result.stream, response).catch((err: Error) => { this.#log.debug({ err: err.message, path }, 'download cut short') })
      } else if (result instanceof StreamingResponse) {
        response.writeHead(200, { 'content-type': result.contentType, 'cache-control': 'no-store', connection: 'keep-alive' })
        result.open((chunk) => { response.write(chunk) }, signal, () => { response.end() })
      } else {
        send(response, 200, result)
      }
    } catch (err) {
      const status = statusOf(err)
      if (status === 500) this.#log.error({ err, path }, 'control API request failed')
      if (!response.headersSent) send(response, status, { error: err instanceof Error ? err.message : String(err) })
    }
  }
}

function abortOnClose (response: ServerResponse): AbortSignal {
  const controller = new AbortController()
  response.once('close', () => { if (!response.writableFinished) controller.abort() })
  return controller.signal
}
