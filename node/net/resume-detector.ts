import type { Startable } from '@libp2p/interface'

const TICK_MS = 250
/** A tick this much later than due, with the process not running meanwhile, means it was frozen. */
const MIN_GAP_MS = 1_500
/**
 * A freeze is reported at most this often: a process starved of CPU (dozens of nodes on a few
 * cores) looks frozen tick after tick, and catching up with peers each time fed the starvation.
 */
const MIN_REPORT_INTERVAL_MS = 10_000

/**
 * How long the process was frozen, when a tick due at `dueAt` runs at `now` after using `cpuMs` of
 * CPU since the previous tick; undefined for an ordinary tick. A tick delayed by this process's own
 * work (a long apply) is not a freeze: the process used the time. One that got no CPU was stopped
 * (SIGSTOP, a suspended VM or laptop) or starved, and its peers went on without it either way.
 */
export function frozenFor (dueAt: number, now: number, cpuMs: number, minGapMs = MIN_GAP_MS): number | undefined {
  const late = now - dueAt
  return late >= minGapMs && cpuMs < late / 2 ? late : undefined
}

/**
 * Notices that this process runs again after being frozen: while it was, its peers wrote, and
 * its connections died or went stale, and nothing would make it catch up before the next
 * anti-entropy round. Uses the monotonic clock, so a wall-clock change is not mistaken for a freeze.
 */
export class ResumeDetector implements Startable {
  readonly #onResume: (frozenMs: number) => void
  #timer: NodeJS.Timeout | undefined
  #dueAt = 0
  #cpu = process.cpuUsage()
  #reportedAt = -Infinity

  constructor (onResume: (frozenMs: number) => void) {
    this.#onResume = onResume
  }

  start (): void {
    this.#dueAt = performance.now() + TICK_MS
    this.#cpu = process.cpuUsage()
    this.#timer = setInterval(() => { this.#tick() }, TICK_MS)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
  }

  #tick (): void {
    const now = performance.now()
    const used = process.cpuUsage(this.#cpu)
    this.#cpu = process.cpuUsage()
    const frozen = frozenFor(this.#dueAt, now, (used.user + used.system) / 1000)
    this.#dueAt = now + TICK_MS
    if (frozen === undefined || now - this.#reportedAt < MIN_REPORT_INTERVAL_MS) return
    this.#reportedAt = now
    this.#onResume(frozen)
  }
}
