import { createReadStream, createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { request as createRequest, type IncomingMessage } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { PeerflowError, type ErrorKind } from '../../crdt/peerflow-error.ts'
import { STATUS_OF_KIND } from '../api/error-status.ts'

/** Talks to a running node's control API. Deliberately light (node:http, not fetch): read commands must start fast. */

export const DEFAULT_API = '127.0.0.1:7433'
const DEFAULT_TIMEOUT_MS = 15_000
/** Far above any reply a node sends (task lists, overviews); a peer answering more is not a node. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

/** A failure the CLI prints as one line; `exitCode` 2 for bad input, 1 otherwise. */
export class CliError extends Error {
  override name = 'CliError'
  readonly exitCode: number
  constructor (message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

const KIND_OF_STATUS = new Map<number, ErrorKind>(Object.entries(STATUS_OF_KIND).map(([kind, status]) => [status, kind as ErrorKind]))

/** The error kind an HTTP status stands for: the inverse of the server's mapping, plus the HTTP-level statuses. */
export function kindOfStatus (status: number): ErrorKind {
  const kind = KIND_OF_STATUS.get(status)
  if (kind !== undefined) return kind
  if (status === 401) return 'forbidden'
  if (status === 408) return 'timeout'
  if (status >= 400 && status < 500) return 'invalid'
  return 'unavailable'
}

/** A reply with an error status: the node's message, its kind, and the status it came with. */
export class ApiError extends PeerflowError {
  override name = 'ApiError'
  readonly status: number
  constructor (status: number, message: string) {
    super(kindOfStatus(status), message)
    this.status = status
  }
}

/** Nothing listens at the API address: no node there, or one still starting. */
export class NodeNotAnsweringError extends PeerflowError {
  override name = 'NodeNotAnsweringError'
  constructor (message: string) {
    super('unreachable', message)
  }
}

export interface RequestOptions {
  body?: unknown
  timeoutMs?: number
  query?: Record<string, string | number | boolean | undefined>
}

export class ApiClient {
  readonly address: string
  readonly #token: string | undefined

  constructor (address: string = process.env.PEERFLOW_API ?? DEFAULT_API, token = process.env.PEERFLOW_API_TOKEN) {
    this.address = address
    this.#token = token
  }

  get baseUrl (): string {
    return /^https?:\/\//.test(this.address) ? this.address : `http://${this.address}`
  }

  async request<T> (method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(path, this.baseUrl)
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value))
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const headers: Record<string, string> = { accept: 'application/json' }
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`
    let response: { status: number, text: string }
    try {
      response = await httpRequest(url, method, headers, options.body === undefined ? undefined : JSON.stringify(options.body), timeoutMs)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ETIMEDOUT') throw new PeerflowError('timeout', `the node at ${this.address} did not answer within ${timeoutMs} ms`)
      if (code === 'ETOOLARGE') throw new PeerflowError('too-large', `the node at ${this.address} answered with more than ${MAX_RESPONSE_BYTES} bytes`)
      if (code === 'ECONNREFUSED') throw new NodeNotAnsweringError(`no peerflow node answering at ${this.address}: start one with 'peerflow start', or pass --api`)
      throw new PeerflowError('unreachable', `cannot reach the node at ${this.address}: ${(err as Error).message}`)
    }
    return this.#decode<T>(response.status, response.text)
  }

  /** Sends a local file as the body of a PUT (an upload of any size); answers the JSON reply. */
  async upload<T> (path: string, file: string, query: Record<string, string>, idleTimeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    const url = this.#url(path, query)
    const size = (await stat(file)).size
    const response = await this.#exchange(url, 'PUT', { 'content-type': 'application/octet-stream', 'content-length': String(size) }, idleTimeoutMs, async (request) => {
      await pipeline(createReadStream(file), request)
    })
    const text = await readAll(response)
    return this.#decode<T>(response.statusCode ?? 0, text)
  }

  /** Saves the body of a GET to `out`; a JSON error reply becomes an ApiError as for any request. */
  async download (path: string, out: string, idleTimeoutMs = DEFAULT_TIMEOUT_MS): Promise<number> {
    const response = await this.#exchange(this.#url(path, {}), 'GET', {}, idleTimeoutMs, async (request) => { request.end() })
    if ((response.statusCode ?? 0) !== 200) this.#decode(response.statusCode ?? 0, await readAll(response))
    let bytes = 0
    response.on('data', (chunk: Buffer) => { bytes += chunk.byteLength })
    await pipeline(response, createWriteStream(out))
    return bytes
  }

  #url (path: string, query: Record<string, string>): URL {
    const url = new URL(path, this.baseUrl)
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value)
    return url
  }

  #decode<T> (status: number, text: string): T {
    let payload: unknown
    try {
      payload = text === '' ? null : JSON.parse(text)
    } catch {
      throw new PeerflowError('unavailable', `the node at ${this.address} answered with something that is not JSON (HTTP ${status})`)
    }
    if (status < 200 || status > 299) {
      const message = (payload as { error?: string } | null)?.error ?? `HTTP ${status}`
      throw new ApiError(status, message)
    }
    return payload as T
  }

  /** One request whose body `send` writes, with an idle timeout rather than a total one (files can be large). */
  async #exchange (url: URL, method: string, headers: Record<string, string>, idleTimeoutMs: number, send: (request: ReturnType<typeof createRequest>) => Promise<void>): Promise<IncomingMessage> {
    const all = { accept: 'application/json', ...headers, ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }) }
    try {
      return await new Promise<IncomingMessage>((resolve, reject) => {
        const request = createRequest(url, { method, headers: all }, resolve)
        request.setTimeout(idleTimeoutMs, () => { request.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })) })
        request.on('error', reject)
        send(request).catch(reject)
      })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ETIMEDOUT') throw new PeerflowError('timeout', `the node at ${this.address} went silent for ${idleTimeoutMs} ms`)
      if (code === 'ECONNREFUSED') throw new NodeNotAnsweringError(`no peerflow node answering at ${this.address}: start one with 'peerflow start', or pass --api`)
      throw new PeerflowError('unreachable', `cannot reach the node at ${this.address}: ${(err as Error).message}`)
    }
  }
}

async function readAll (response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of response) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function httpRequest (url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<{ status: number, text: string }> {
  return new Promise((resolve, reject) => {
    const request = createRequest(url, { method, headers }, (response) => {
      const chunks: Buffer[] = []
      let size = 0
      response.on('data', (chunk: Buffer) => {
        size += chunk.byteLength
        if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk)
        else {
          reject(Object.assign(new Error('reply too large'), { code: 'ETOOLARGE' }))
          request.destroy()
        }
      })
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
      response.on('error', reject)
    })
    request.setTimeout(timeoutMs, () => { request.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })) })
    request.on('error', reject)
    request.end(body)
  })
}
