import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareAttempts, isTaskId, newTaskId, parseAttemptId, parseKey } from '../src/swarm/tasks/keys.ts'
import { RecordIndexer } from '../src/swarm/tasks/record-index.ts'
import { reportTask } from '../src/swarm/tasks/task-report.ts'
import {
  assignmentRecord, cancelRecord, claimRecord, progressRecord, resultRecord, specRecord, viewOf, workerRecord
} from './helpers/task-records.ts'

describe('task keys', () => {
  it('names every record kind and rejects keys outside the layout', () => {
    expect(parseKey('task/t1')).toEqual({ kind: 'spec', task: 't1' })
    expect(parseKey('task/t1/a/3.2')).toEqual({ kind: 'assignment', task: 't1', attempt: '3.2' })
    expect(parseKey('task/t1/p/3.2')).toEqual({ kind: 'progress', task: 't1', attempt: '3.2' })
    expect(parseKey('task/t1/r/3.2')).toEqual({ kind: 'result', task: 't1', attempt: '3.2' })
    expect(parseKey('task/t1/c/peerB')).toEqual({ kind: 'claim', task: 't1', peer: 'peerB' })
    expect(parseKey('task/t1/cancel')).toEqual({ kind: 'cancel', task: 't1' })
    expect(parseKey('worker/peerB')).toEqual({ kind: 'worker', peer: 'peerB' })
    for (const key of ['task/', 'task/T1', 'task/t1/a/3', 'task/t1/x/3.2', 'task/t1/a/3.2/extra', 'worker/', 'other/t1']) {
      expect(parseKey(key), key).toBeUndefined()
    }
  })

  it('orders attempts by term first, then by number', () => {
    const sorted = ['6.1', '5.3', '5.10', '7.0'].map((id) => parseAttemptId(id) as { term: number, n: number }).sort(compareAttempts)
    expect(sorted).toEqual([{ term: 5, n: 3 }, { term: 5, n: 10 }, { term: 6, n: 1 }, { term: 7, n: 0 }])
  })

  it('makes task ids that fit the layout', () => {
    const id = newTaskId()
    expect(isTaskId(id)).toBe(true)
    expect(newTaskId()).not.toBe(id)
  })
})

describe('record index', () => {
  it('ignores records that do not come from their one allowed writer', () => {
    const index = new RecordIndexer().index([
      specRecord('t1'),
      { ...assignmentRecord('t1', '1.1', 'B'), author: 'B' },
      { ...resultRecord('t1', '1.1', 'B'), author: 'C' },
      { ...claimRecord('t1', 'B', null), author: 'C' },
      { ...workerRecord('B', 2), author: 'C' },
      { ...specRecord('t2'), author: 'C' }
    ])
    const task = index.tasks.get('t1')
    expect(task?.spec?.id).toBe('t1')
    expect(task?.attempts.get('1.1')?.assignment).toBeUndefined()
    expect(task?.attempts.get('1.1')?.result).toBeUndefined()
    expect(task?.claims.size).toBe(0)
    expect(index.workers.size).toBe(0)
    expect(index.tasks.get('t2')?.spec).toBeUndefined()
  })

  it('ignores malformed values', () => {
    const index = new RecordIndexer().index([specRecord('t1'), { key: 'task/t1/a/1.1', value: { worker: 'B' }, author: 'L' }])
    expect(index.tasks.get('t1')?.attempts.size).toBe(0)
  })
})

describe('task state derivation', () => {
  it('is nothing without a spec, and submitted with one', () => {
    expect(viewOf([assignmentRecord('t1', '1.1', 'B')])).toBeUndefined()
    expect(viewOf([specRecord('t1')])).toMatchObject({ state: 'submitted', next: { stage: 0, inputFrom: null, reason: 'scheduled', after: null } })
  })

  it('goes assigned, then running on the worker’s progress, then done on its result', () => {
    const records = [specRecord('t1'), assignmentRecord('t1', '1.1', 'B')]
    expect(viewOf(records)?.state).toBe('assigned')
    expect(viewOf([...records, progressRecord('t1', '1.1', 'C')])?.state).toBe('assigned')
    expect(viewOf([...records, progressRecord('t1', '1.1', 'B', { state: 'waiting' })])?.state).toBe('assigned')
    expect(viewOf([...records, progressRecord('t1', '1.1', 'B')])?.state).toBe('running')
    const done = viewOf([...records, progressRecord('t1', '1.1', 'B'), resultRecord('t1', '1.1', 'B')])
    expect(done?.state).toBe('done')
    expect(done?.result?.text).toBe('answer of t1 by B in 1.1')
  })

  it('counts a result only from the worker of the attempt in force', () => {
    const view = viewOf([specRecord('t1'), assignmentRecord('t1', '1.1', 'B'), resultRecord('t1', '1.1', 'C')])
    expect(view?.state).toBe('assigned')
  })

  it('ignores the result of a superseded attempt, and a stale leader cannot supersede a newer term', () => {
    const superseded = viewOf([
      specRecord('t1'), assignmentRecord('t1', '5.1', 'B'), resultRecord('t1', '5.1', 'B'), assignmentRecord('t1', '6.2', 'C', { reason: 'reassigned' })
    ])
    expect(superseded).toMatchObject({ state: 'assigned', current: { id: '6.2' } })
    const staleLate = viewOf([specRecord('t1'), assignmentRecord('t1', '6.1', 'C'), assignmentRecord('t1', '5.7', 'B')])
    expect(staleLate?.current?.id).toBe('6.1')
  })

  it('queues a retry after a retryable failure, avoiding the worker that failed', () => {
    const view = viewOf([specRecord('t1'), assignmentRecord('t1', '1.1', 'B'), resultRecord('t1', '1.1', 'B', { status: 'failed', error: 'boom', retryable: true })])
    expect(view).toMatchObject({ state: 'submitted', error: 'boom', next: { stage: 0, reason: 'retry', after: '1.1', avoid: ['B'], ringAfter: 'B' } })
  })

  it('fails when the attempts are used up, or at once when a retry cannot help', () => {
    const failure = { status: 'failed' as const, error: 'boom', retryable: true }
    const exhausted = viewOf([
      specRecord('t1', { maxAttempts: 2 }),
      assignmentRecord('t1', '1.1', 'B'), resultRecord('t1', '1.1', 'B', failure),
      assignmentRecord('t1', '1.2', 'C'), resultRecord('t1', '1.2', 'C', failure)
    ])
    expect(exhausted).toMatchObject({ state: 'failed', error: 'boom' })
    const budget = viewOf([specRecord('t1'), assignmentRecord('t1', '1.1', 'B'), resultRecord('t1', '1.1', 'B', { status: 'failed', error: 'budget exceeded: max turns 1', retryable: false })])
    expect(budget).toMatchObject({ state: 'failed', error: 'budget exceeded: max turns 1' })
  })

  it('is cancelled by a cancellation, unless the final result was already in', () => {
    expect(viewOf([specRecord('t1'), cancelRecord('t1', 'A')])?.state).toBe('cancelled')
    expect(viewOf([specRecord('t1'), assignmentRecord('t1', '1.1', 'B'), cancelRecord('t1', 'A')])?.state).toBe('cancelled')
    expect(viewOf([specRecord('t1'), assignmentRecord('t1', '1.1', 'B'), resultRecord('t1', '1.1', 'B'), cancelRecord('t1', 'A')])?.state).toBe('done')
  })

  it('fails when the leader abandons the task, with its reason', () => {
    const view = viewOf([specRecord('t1'), assignmentRecord('t1', '1.1', 'B'), assignmentRecord('t1', '1.2', null, { reason: 'abandoned', error: 'worker B lost' })])
    expect(view).toMatchObject({ state: 'failed', error: 'worker B lost' })
  })

  it('passes each stage’s accepted output to the next, and is done after the last stage', () => {
    const stages = { stages: ['planner', 'coder', 'reviewer'] }
    const afterFirst = [specRecord('t1', stages), assignmentRecord('t1', '1.1', 'B'), resultRecord('t1', '1.1', 'B', { role: 'planner' })]
    expect(viewOf(afterFirst)).toMatchObject({ state: 'submitted', next: { stage: 1, inputFrom: '1.1', reason: 'next-stage', ringAfter: 'B' } })
    const all = [
      ...afterFirst,
      assignmentRecord('t1', '1.2', 'C', { stage: 1, inputFrom: '1.1' }), resultRecord('t1', '1.2', 'C', { role: 'coder' }),
      assignmentRecord('t1', '1.3', 'A', { stage: 2, inputFrom: '1.2' }), resultRecord('t1', '1.3', 'A', { role: 'reviewer' })
    ]
    const view = viewOf(all)
    expect(view?.state).toBe('done')
    const report = reportTask(view as NonNullable<typeof view>)
    expect(report.stageOutputs.map((output) => [output.role, output.worker])).toEqual([['planner', 'B'], ['coder', 'C'], ['reviewer', 'A']])
    expect(report.result).toBe('answer of t1 by A in 1.3')
    expect(report.usage).toEqual({ inputTokens: 15, outputTokens: 15 })
  })

  it('derives the same view whatever order the records arrive in', () => {
    const records = [
      specRecord('t1', { stages: ['planner', 'coder'], maxAttempts: 2 }),
      assignmentRecord('t1', '1.1', 'B'), progressRecord('t1', '1.1', 'B'), resultRecord('t1', '1.1', 'B', { status: 'failed', error: 'x', retryable: true }),
      assignmentRecord('t1', '1.2', 'C'), resultRecord('t1', '1.2', 'C'),
      assignmentRecord('t1', '2.3', 'A', { stage: 1, inputFrom: '1.2' }), progressRecord('t1', '2.3', 'A'),
      assignmentRecord('t1', '1.4', 'B', { stage: 1, inputFrom: '1.2' }), claimRecord('t1', 'C', '1.2'), workerRecord('A', 2)
    ]
    const expected = reportTask(viewOf(records) as NonNullable<ReturnType<typeof viewOf>>)
    expect(expected).toMatchObject({ state: 'running', assignee: 'A', stage: 1 })
    fc.assert(fc.property(fc.shuffledSubarray(records, { minLength: records.length, maxLength: records.length }), (shuffled) => {
      expect(reportTask(viewOf(shuffled) as NonNullable<ReturnType<typeof viewOf>>)).toEqual(expected)
    }), { numRuns: 200, seed: 7 })
  })
})
