import { describe, expect, it } from 'vitest'
import { frozenFor, ResumeDetector } from '../node/net/resume-detector.ts'

describe('resume detector', () => {
  it('tells an ordinary late tick from a freeze', () => {
    expect(frozenFor(1_000, 1_040)).toBeUndefined()
    expect(frozenFor(1_000, 2_499)).toBeUndefined()
    expect(frozenFor(1_000, 2_500)).toBe(1_500)
    expect(frozenFor(1_000, 61_000)).toBe(60_000)
  })

  it('reports a freeze of the event loop once, with how long it lasted', async () => {
    const reports: number[] = []
    const detector = new ResumeDetector((frozenMs) => { reports.push(frozenMs) })
    detector.start()
    try {
      await new Promise((resolve) => setTimeout(resolve, 600))
      // What SIGSTOP looks like from inside: no timer runs until the process continues.
      const until = performance.now() + 2_500
      while (performance.now() < until) { /* frozen */ }
      await new Promise((resolve) => setTimeout(resolve, 600))
      // Late by the freeze less the part of a tick it began in (up to 250 ms); a loaded machine may
      // add stalls of its own, shorter than this freeze.
      expect(reports.filter((frozenMs) => frozenMs >= 2_200 && frozenMs < 5_000)).toHaveLength(1)
    } finally {
      detector.stop()
    }
  })
})
