import type { PeerflowNode } from '../node.ts'

/** An error with the HTTP status the control API answers it with. */
export class HttpError extends Error {
  override name = 'HttpError'
  readonly status: number
  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

export interface RouteContext {
  node: PeerflowNode
  params: Record<string, string>
  query: URLSearchParams
  body: unknown
  /** Aborted when the client goes away or the node stops. */
  signal: AbortSignal
}

/** One control API endpoint; `path` segments starting with ':' are parameters. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  handle: (context: RouteContext) => unknown
}

export function requireString (body: unknown, field: string): string {
  const value = (body as Record<string, unknown> | null)?.[field]
  if (typeof value !== 'string' || value === '') throw new HttpError(400, `missing field '${field}'`)
  return value
}
