import { describe, expect, it } from 'vitest'
import { IdleMemorySaver, INITIAL_SAVER_STATE, nextSaverState, type SaverState } from '../node/core/idle-memory-saver.ts'

const THRESHOLDS = { idleBelow: 0.02, idleSamples: 3, busyFrom: 0.05 }

function run (utilizations: number[]): SaverState[] {
  const states: SaverState[] = []
  let state = INITIAL_SAVER_STATE
  for (const utilization of utilizations) {
    state = nextSaverState(state, utilization, THRESHOLDS)
    states.push(state)
  }
  return states
}

/** Waits (idle) until `done`, or fails after `ms`. */
async function idleUntil (done: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms
  while (!done()) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Keeps the event loop busy until `done`, in slices so timers still run between them; fails after `ms`. */
async function busyUntil (done: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms
  while (!done()) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms`)
    const slice = performance.now() + 20
    while (performance.now() < slice) { /* spin */ }
    await new Promise((resolve) => setImmediate(resolve))
  }
}

describe('idle memory saver', () => {
  it('favours memory only after enough idle intervals in a row, and speed at the first busy one', () => {
    expect(run([0.01, 0.01]).map((state) => state.favourMemory)).toEqual([false, false])
    // A moderately loaded interval breaks the idle streak without being busy.
    expect(run([0.01, 0.01, 0.03, 0.01, 0.01]).at(-1)?.favourMemory).toBe(false)
    expect(run([0.01, 0.01, 0.01]).at(-1)?.favourMemory).toBe(true)
    // Once on, moderate load keeps it on (hysteresis); busy turns it off.
    expect(run([0.01, 0.01, 0.01, 0.03]).at(-1)?.favourMemory).toBe(true)
    expect(run([0.01, 0.01, 0.01, 0.03, 0.2]).at(-1)).toEqual({ favourMemory: false, idleIntervals: 0 })
  })

  it('switches V8 to favour memory while the event loop idles and back when it works, and restores speed on stop', async () => {
    const flags: string[] = []
    const saver = new IdleMemorySaver({ sampleMs: 100, idleSamples: 2, setV8Flags: (value) => { flags.push(value) } })
    saver.start()
    try {
      const started = performance.now()
      await idleUntil(() => saver.favoursMemory, 5_000)
      // Not before two whole idle intervals.
      expect(performance.now() - started).toBeGreaterThanOrEqual(190)
      expect(flags).toEqual(['--optimize-for-size'])
      await busyUntil(() => !saver.favoursMemory, 5_000)
      expect(flags).toEqual(['--optimize-for-size', '--no-optimize-for-size'])
      await idleUntil(() => saver.favoursMemory, 5_000)
    } finally {
      saver.stop()
    }
    expect(flags.at(-1)).toBe('--no-optimize-for-size')
    expect(saver.favoursMemory).toBe(false)
  })
})
