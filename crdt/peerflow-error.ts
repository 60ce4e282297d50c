/**
 * What went wrong, in terms a caller can act on. Every layer raises errors with one of these kinds;
 * the control API maps kinds to HTTP statuses in one place (node/api/error-status.ts), the CLI and
 * the typed client map statuses back, so nobody matches on message text.
 */
export type ErrorKind =
  | 'invalid' // the request itself is wrong: fix the input
  | 'forbidden' // refused by policy (admission, allowlist)
  | 'not-found' // no such task, swarm, namespace, pattern, entry
  | 'conflict' // not possible in the current state (a limit reached, a backoff in force)
  | 'too-large' // over a size cap
  | 'unavailable' // this node cannot serve it now (store closed, no leader)
  | 'unreachable' // a peer or endpoint could not be reached
  | 'timeout' // no answer in time

export class PeerflowError extends Error {
  override name = 'PeerflowError'
  readonly kind: ErrorKind
  constructor (kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options)
    this.kind = kind
  }
}
