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

  it('for a loop: iteration, worker, spend and the last checkpoint; the stop reason at the end', () => {
    const loop = { maxIterations: 50, running: 7, spentUsd: 0.412, checkpoint: 'tests pass for module x\nnext: module y', iterationLog: Array.from({ length: 6 }, () => ({})) as NonNullable<ProgressView['loop']>['iterationLog'] }
    expect(progressLine({ ...base, loop })).toBe('iteration 7/50 · worker 12D3KooW…44AqvW · $0.41 · last: "tests pass for module x next: module y"')
    expect(progressLine({ ...base, loop: { ...loop, running: null, checkpoint: null }, assignee: null })).toBe('iteration 7/50 · waiting for a worker · $0.41')
    expect(progressLine({ ...base, state: 'done', durationMs: 9_000, loop, stopReason: 'max-iterations' })).toBe('done in 9.0 s · 6 iterations (max-iterations)')
  })

  it('says what a gated or dependent task waits for', () => {
    expect(progressLine({ ...base, state: 'input-required', assignee: null, progress: null })).toBe('waiting for approval (peerflow task approve|reject <id>)')
    expect(progressLine({ ...base, state: 'waiting', assignee: null, progress: null, blockedBy: ['t-1', 't-2'] })).toBe('waiting for t-1, t-2')
  })
})
