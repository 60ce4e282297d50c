import { describe, expect, it } from 'vitest'
import { progressLine, type ProgressView } from '../node/cli/commands/task-commands.ts'

describe('task progress line (peerflow task submit --wait)', () => {
  const base: ProgressView = {
    state: 'running', assignee: '12D3KooWLnnEjBW6huTQ3nKxFQ55vDCkcQtwKhsvT3ctkW44AqvW', stages: ['reviewer'], stage: 0, attempts: 1, maxAttempts: 3,
    progress: { state: 'running', turn: 2, maxTurns: 8, tokens: 1_940 }, durationMs: null, error: null
  }

  it('says where the task runs and how far it got', () => {
    expect(progressLine(base)).toBe('assigned to 12D3KooW…44AqvW · running · turn 2/8 · tokens 1.9k')
    expect(progressLine({ ...base, assignee: null, progress: null, state: 'submitted' })).toBe('waiting for a worker')
    expect(progressLine({ ...base, stages: ['planner', 'coder'], stage: 1, attempts: 2 }))
      .toBe('assigned to 12D3KooW…44AqvW · stage 2/2 (coder) · attempt 2/3 · running · turn 2/8 · tokens 1.9k')
  })

  it('ends with the outcome and the time it took', () => {
    expect(progressLine({ ...base, state: 'done', durationMs: 14_200 })).toBe('done in 14.2 s')
    expect(progressLine({ ...base, state: 'failed', durationMs: 900, error: 'budget exceeded: max turns 1' })).toBe('failed in 900 ms: budget exceeded: max turns 1')
  })
})
