import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import { PeerflowError } from '../../crdt/peerflow-error.ts'
import type { PeerflowNode } from '../core/peerflow-node.ts'

/** An error with the HTTP status the control API answers it with. */
export class HttpError extends Error {
  override name = 'HttpError'
  readonly status: number
  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** A non-JSON answer (Prometheus text, an HTML page). */
export class RawResponse {
  readonly contentType: string
  readonly body: string | Uint8Array
  constructor (contentType: string, body: string | Uint8Array) {
    this.contentType = contentType
    this.body = body
  }
}

/**
 * A long-lived answer, e.g. server-sent events: `open` writes to the response until the client
 * leaves (`signal`) or it calls `end`.
 */
export class StreamingResponse {
  readonly contentType: string
  readonly open: (write: (chunk: string) => void, signal: AbortSignal, end: () => void) => void
  constructor (contentType: string, open: StreamingResponse['open']) {
    this.contentType = contentType
    this.open = open
  }
}

/** Bytes read from a stream (a file), sent with their length. */
export class ByteStreamResponse {
  readonly contentType: string
  readonly size: number
  readonly stream: Readable
  constructor (contentType: string, size: number, stream: Readable) {
    this.contentType = contentType
    this.size = size
    this.stream = stream
  }
}

export interface RouteContext {
  node: PeerflowNode
  params: Record<string, string>
  query: URLSearchParams
  body: unknown
  headers: IncomingHttpHeaders
  /** Aborted when the client goes away or the node stops. */
  signal: AbortSignal
  /** The request itself, its body unread, for routes with `rawBody` (uploads). */
  request: IncomingMessage
}

/** One control API endpoint; `path` segments starting with ':' are parameters. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  /** The handler reads the body from `request` itself (any size, any type), instead of it being parsed as JSON. */
  rawBody?: true
  handle: (context: RouteContext) => unknown
}

export function requireString (body: unknown, field: string): string {
  const value = (body as Record<string, unknown> | null)?.[field]
  if (typeof value !== 'string' || value === '') throw new PeerflowError('invalid', `missing field '${field}'`)
  return value
}
