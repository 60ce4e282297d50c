import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { PeerflowError } from '../../../crdt/peerflow-error.ts'
import { isLoopbackHost, tokenMatches } from '../../api/api-token.ts'
import type { PeerflowClient } from '../peerflow-client.ts'
import { createMcpServer } from './mcp-server.ts'
import { readJsonBody } from '../../api/json-body.ts'
import { HttpError } from '../../api/route.ts'

export const MCP_PATH = '/mcp'

export interface McpHttpOptions {
  /** host:port to listen on; port 0 picks a free one. */
  listen: string
  /** Every request must carry it as `Authorization: Bearer <token>`. */
  token: string
}

export interface McpHttpServer {
  /** The bound host:port. */
  address: string
  url: string
  close: () => Promise<void>
}


function splitAddress (address: string): { host: string, port: number } {
  const separator = address.lastIndexOf(':')
  const port = Number(address.slice(separator + 1))
  const host = address.slice(0, separator).replace(/^\[|\]$/g, '')
  if (separator <= 0 || !Number.isInteger(port) || port < 0 || port > 65_535) throw new PeerflowError('invalid', `--http: expected host:port, got '${address}'`)
  return { host, port }
}


function refuse (response: ServerResponse, status: number, message: string): void {
  if (response.headersSent) { response.end(); return }
  response.writeHead(status, { 'content-type': 'application/json', ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) })
  response.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message }, id: null }))
}

/**
 * `peerflow mcp --http`: MCP over Streamable HTTP, stateless (a fresh server per request, so no
 * session state to leak or exhaust). Fails closed: no bearer token, no access; a browser page on
 * another origin, or a request naming a foreign Host (DNS rebinding), is refused.
 */
export async function serveMcpOverHttp (client: PeerflowClient, options: McpHttpOptions): Promise<McpHttpServer> {
  if (options.token === '') throw new PeerflowError('invalid', 'the MCP HTTP server needs a non-empty token')
  const { host, port } = splitAddress(options.listen)
  let allowedHosts = new Set<string>()
  let ownOrigins = new Set<string>()

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname
    if (path !== MCP_PATH) throw new HttpError(404, `no such endpoint ${path}: MCP is served at ${MCP_PATH}`)
    if (isLoopbackHost(host) && !allowedHosts.has(request.headers.host ?? '')) {
      throw new HttpError(403, `unexpected Host header '${request.headers.host ?? ''}'`)
    }
    const origin = request.headers.origin
    if (origin !== undefined && !ownOrigins.has(origin)) throw new HttpError(403, `cross-origin requests are refused (origin ${origin})`)
    if (!tokenMatches(options.token, request.headers.authorization)) throw new HttpError(401, 'missing or wrong bearer token')
    if (request.method !== 'POST') throw new HttpError(405, 'this MCP endpoint is stateless: POST JSON-RPC messages to it')
    const body = await readJsonBody(request)
    const server = createMcpServer(client)
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
    response.once('close', () => { void transport.close(); void server.close() })
    await server.connect(transport)
    await transport.handleRequest(request, response, body)
  }

  const http: Server = createServer((request, response) => {
    handle(request, response).catch((err: unknown) => {
      if (err instanceof HttpError) refuse(response, err.status, err.message)
      else refuse(response, 500, err instanceof Error ? err.message : String(err))
    })
  })
  http.headersTimeout = 10_000
  await new Promise<void>((resolve, reject) => {
    http.once('error', (err: NodeJS.ErrnoException) => {
      reject(new PeerflowError(err.code === 'EADDRINUSE' ? 'conflict' : 'unavailable',
        err.code === 'EADDRINUSE' ? `--http: ${options.listen} is already in use` : `--http: cannot listen on ${options.listen}: ${err.message}`))
    })
    http.listen(port, host, () => resolve())
  })
  const bound = http.address()
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port
  const address = `${host.includes(':') ? `[${host}]` : host}:${boundPort}`
  allowedHosts = new Set([address, `localhost:${boundPort}`, `127.0.0.1:${boundPort}`, `[::1]:${boundPort}`])
  ownOrigins = new Set([...allowedHosts].map((h) => `http://${h}`))
  return {
    address,
    url: `http://${address}${MCP_PATH}`,
    close: async () => new Promise<void>((resolve) => {
      http.close(() => resolve())
      http.closeAllConnections()
    })
  }
}
