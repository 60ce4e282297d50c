import { setFlagsFromString } from 'node:v8'
import { performance } from 'node:perf_hooks'
import type { Startable } from '@libp2p/interface'

/*
 * An idle node holds on to the heap its start-up and its last burst of work grew: V8's memory
 * reducer, which would give it back, judges the allocation rate from the last busy period and
 * keeps waiting (docs/BENCHMARKS.md, bench:node: 139 MB RSS after 30 s idle, 62 MB of V8 heap
 * committed for 34 MB used). Told to favour memory (`--optimize-for-size`), it runs its
 * memory-reducing collections within seconds. That mode costs about a third of V8's speed, so it
 * is on only while the event loop idles and off again as soon as work comes back.
 */

export interface IdleMemorySaverOptions {
  /** How often the event loop's utilization is read. Default 2 s. */
  readonly sampleMs?: number
  /** Utilization under which an interval counts as idle. Default 0.02. */
  readonly idleBelow?: number
  /** Consecutive idle intervals before V8 is told to favour memory. Default 3. */
  readonly idleSamples?: number
  /** Utilization from which an interval counts as busy and V8 is told to favour speed again. Default 0.05. */
  readonly busyFrom?: number
  /** Called when the mode changes (for the log). */
  readonly onChange?: (favourMemory: boolean) => void
  /** Sets V8 flags; replaced in tests. */
  readonly setV8Flags?: (flags: string) => void
}

export interface SaverState {
  readonly favourMemory: boolean
  readonly idleIntervals: number
}

export const INITIAL_SAVER_STATE: SaverState = { favourMemory: false, idleIntervals: 0 }

/** The next state after an interval of `utilization`: idle long enough turns the mode on, busy turns it off. */
export function nextSaverState (state: SaverState, utilization: number, options: Required<Pick<IdleMemorySaverOptions, 'idleBelow' | 'idleSamples' | 'busyFrom'>>): SaverState {
  if (utilization >= options.busyFrom) return { favourMemory: false, idleIntervals: 0 }
  if (utilization >= options.idleBelow) return { favourMemory: state.favourMemory, idleIntervals: 0 }
  const idleIntervals = state.idleIntervals + 1
  return { favourMemory: state.favourMemory || idleIntervals >= options.idleSamples, idleIntervals }
}

/** Tells V8 to favour memory while this process's event loop idles, and speed while it works. */
export class IdleMemorySaver implements Startable {
  readonly #sampleMs: number
  readonly #thresholds: Required<Pick<IdleMemorySaverOptions, 'idleBelow' | 'idleSamples' | 'busyFrom'>>
  readonly #onChange: (favourMemory: boolean) => void
  readonly #setV8Flags: (flags: string) => void
  #state = INITIAL_SAVER_STATE
  #timer: NodeJS.Timeout | undefined
  #last = performance.eventLoopUtilization()

  constructor (options: IdleMemorySaverOptions = {}) {
    this.#sampleMs = options.sampleMs ?? 2_000
    this.#thresholds = { idleBelow: options.idleBelow ?? 0.02, idleSamples: options.idleSamples ?? 3, busyFrom: options.busyFrom ?? 0.05 }
    this.#onChange = options.onChange ?? (() => {})
    this.#setV8Flags = options.setV8Flags ?? setFlagsFromString
  }

  get favoursMemory (): boolean {
    return this.#state.favourMemory
  }

  start (): void {
    this.#last = performance.eventLoopUtilization()
    this.#timer = setInterval(() => { this.#sample() }, this.#sampleMs)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    if (this.#state.favourMemory) this.#apply(INITIAL_SAVER_STATE)
  }

  #sample (): void {
    const now = performance.eventLoopUtilization()
    const interval = performance.eventLoopUtilization(now, this.#last)
    this.#last = now
    this.#apply(nextSaverState(this.#state, interval.utilization, this.#thresholds))
  }

  #apply (next: SaverState): void {
    const changed = next.favourMemory !== this.#state.favourMemory
    this.#state = next
    if (!changed) return
    this.#setV8Flags(next.favourMemory ? '--optimize-for-size' : '--no-optimize-for-size')
    this.#onChange(next.favourMemory)
  }
}
