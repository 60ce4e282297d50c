import type { Startable } from '@libp2p/interface'

const TICK_MS = 250
/** A tick this much later than due means the process was stopped (SIGSTOP, a suspended VM or laptop) or starved. */
const MIN_GAP_MS = 1_500

/** How long the process was frozen, when a tick due at `dueAt` runs at `now`; undefined for an ordinary tick. */
export function frozenFor (dueAt: number, now: number, minGapMs = MIN_GAP_MS): number | undefined {
  const late = now - dueAt
  return late >= minGapMs ? late : undefined
}

/**
 * Notices that this process ran again after being frozen. While it was frozen its peers went on
 * without it: their writes, and its dead or stale connections, are only dealt with once it acts.
 * Uses the monotonic clock, so a wall-clock change is not mistaken for a freeze.
 */
export class ResumeDetector implements Startable {
  readonly #onResume: (frozenMs: number) => void
  #timer: NodeJS.Timeout | undefined
  #dueAt = 0

  constructor (onResume: (frozenMs: number) => void) {
    this.#onResume = onResume
  }

  start (): void {
    this.#dueAt = performance.now() + TICK_MS
    this.#timer = setInterval(() => { this.#tick() }, TICK_MS)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
  }

  #tick (): void {
    const now = performance.now()
    const frozen = frozenFor(this.#dueAt, now)
    this.#dueAt = now + TICK_MS
    if (frozen !== undefined) this.#onResume(frozen)
  }
}
