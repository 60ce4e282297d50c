/** One line of `peerflow doctor`: what was checked, whether it holds, what was seen, and how to fix it. */
export interface CheckResult {
  name: string
  ok: boolean
  detail: string
  /** What to do when the check fails; empty when there is nothing to fix. */
  hint: string
}

export function passed (name: string, detail: string): CheckResult {
  return { name, ok: true, detail, hint: '' }
}

export function failed (name: string, detail: string, hint: string): CheckResult {
  return { name, ok: false, detail, hint }
}

/** The node that answered on the control API, when one did. */
export interface RunningNode {
  api: string
  peerId: string
  dataDir: string
  listen: string[]
  /** The node's wall clock when it answered, estimated at the middle of the round trip. */
  clockAt: { local: number, remote: number }
  /** Network requests through the node's own control API. */
  request: <T>(method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<T>
}
