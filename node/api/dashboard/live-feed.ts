import type { PeerflowNode } from '../../core/peerflow-node.ts'
import { buildOverview } from './overview.ts'

export interface LiveFeedTiming {
  /** An overview at least this often, so that ages, RTTs and rates move. */
  intervalMs: number
  /** After a change, wait this long for the rest of a burst before sending. */
  settleMs: number
}

const DEFAULT_TIMING: LiveFeedTiming = { intervalMs: 1_000, settleMs: 250 }

function frame (event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

/**
 * Server-sent events for one client: an `overview` now, again soon after any change (a memory
 * write, a swarm event, a peer coming or going), and every interval, until `signal` aborts.
 */
export function streamOverview (node: PeerflowNode, write: (chunk: string) => void, signal: AbortSignal, timing = DEFAULT_TIMING): void {
  let periodic: NodeJS.Timeout | undefined
  let settling: NodeJS.Timeout | undefined
  const send = (): void => {
    clearTimeout(periodic)
    clearTimeout(settling)
    settling = undefined
    try {
      write(frame('overview', buildOverview(node)))
    } catch (err) {
      write(frame('problem', { error: (err as Error).message }))
    }
    periodic = setTimeout(send, timing.intervalMs)
  }
  const changed = (): void => {
    settling ??= setTimeout(send, timing.settleMs)
  }
  const unsubscribe = [node.memory.onUpdate(changed), node.swarms.events.subscribe(changed)]
  const peerEvents = ['peer:connect', 'peer:disconnect', 'peer:identify'] as const
  for (const event of peerEvents) node.host.addEventListener(event, changed)
  signal.addEventListener('abort', () => {
    clearTimeout(periodic)
    clearTimeout(settling)
    for (const stop of unsubscribe) stop()
    for (const event of peerEvents) node.host.removeEventListener(event, changed)
  }, { once: true })
  // Browsers reconnect after this long when the node restarts.
  write('retry: 2000\n\n')
  send()
}
