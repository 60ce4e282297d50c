import { describe, expect, it } from 'vitest'
import { loopProgress, loopResume } from '../src/swarm/tasks/loop-view.ts'
import { reportTask } from '../src/swarm/tasks/task-report.ts'
import { assignmentRecord, iterationRecord, progressRecord, resultRecord, specRecord, viewOf } from './helpers/task-records.ts'

/** Loop iterations as every replica derives them from the records it holds. */

const loop = { prd: null, maxIterations: 6, iterationTimeoutMs: 60_000, budgetUsd: null }

describe('loop view', () => {
  it('resumes after the last recorded iteration, marks the one in flight, and counts the lost attempt\'s spend', () => {
    const view = viewOf([
      specRecord('t1', { loop }),
      assignmentRecord('t1', '1.1', 'A'),
      iterationRecord('t1', '1.1', 'A', 1),
      iterationRecord('t1', '1.1', 'A', 2),
      progressRecord('t1', '1.1', 'A', { iteration: 3, costUsd: 0.03 }),
      assignmentRecord('t1', '1.2', 'B', { reason: 'reassigned' })
    ])
    expect(loopResume(view?.attempts ?? [])).toEqual({ nextIteration: 3, checkpoint: 'checkpoint 2 by A', spentUsd: 0.03, inFlightOf: '1.1', completed: false })
  })

  it('takes each number from the newest attempt: a superseded worker that kept going is not in the chain', () => {
    const records = [
      specRecord('t1', { loop }),
      assignmentRecord('t1', '1.1', 'A'),
      iterationRecord('t1', '1.1', 'A', 1),
      iterationRecord('t1', '1.1', 'A', 2),
      assignmentRecord('t1', '2.2', 'B', { reason: 'reassigned' }),
      iterationRecord('t1', '2.2', 'B', 3, { repeatOf: '1.1' }),
      iterationRecord('t1', '2.2', 'B', 4),
      // A, cut off, went on writing after B took over.
      iterationRecord('t1', '1.1', 'A', 3),
      iterationRecord('t1', '1.1', 'A', 4),
      iterationRecord('t1', '1.1', 'A', 5)
    ]
    const progress = loopProgress(viewOf(records)?.attempts ?? [])
    expect(progress.iterations.map((it) => `${it.iteration}:${it.worker}`)).toEqual(['1:A', '2:A', '3:B', '4:B'])
    // Whatever order the records arrive in.
    expect(loopProgress(viewOf([...records].reverse())?.attempts ?? []).iterations).toEqual(progress.iterations)
  })

  it('ignores iteration records not written by the attempt\'s worker', () => {
    const view = viewOf([
      specRecord('t1', { loop }),
      assignmentRecord('t1', '1.1', 'A'),
      iterationRecord('t1', '1.1', 'A', 1),
      { ...iterationRecord('t1', '1.1', 'X', 2) }
    ])
    expect(loopProgress(view?.attempts ?? []).iterations.map((it) => it.iteration)).toEqual([1])
  })

  it('reports iterations and why the loop stopped', () => {
    const view = viewOf([
      specRecord('t1', { loop }),
      assignmentRecord('t1', '1.1', 'A'),
      ...[1, 2, 3, 4, 5, 6].map((n) => iterationRecord('t1', '1.1', 'A', n)),
      resultRecord('t1', '1.1', 'A', { stopReason: 'max-iterations', costUsd: 0.06 })
    ])
    const report = reportTask(view as NonNullable<typeof view>)
    expect(report).toMatchObject({ state: 'done', iterations: 6, stopReason: 'max-iterations' })
    expect(report.loop).toMatchObject({ spentUsd: 0.06, checkpoint: 'checkpoint 6 by A', running: null })
  })
})
