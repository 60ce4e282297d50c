import { PeerflowError, type ErrorKind } from '../../crdt/peerflow-error.ts'
import { HttpError } from './route.ts'

/** The one place an error kind becomes an HTTP status; the client maps statuses back (cli/client.ts). */
export const STATUS_OF_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  unreachable: 502,
  unavailable: 503,
  timeout: 504
}

/** The status to answer an error with: a kind's status, an HTTP-level error's own, else 500. */
export function statusOf (err: unknown): number {
  if (err instanceof HttpError) return err.status
  if (err instanceof PeerflowError) return STATUS_OF_KIND[err.kind]
  return 500
}
