import { assignmentKey, cancelKey, claimKey, iterationKey, parseAttemptId, progressKey, resultKey, taskKey, workerKey } from '../../src/swarm/tasks/keys.ts'
import { RecordIndexer, type StoredRecord } from '../../src/swarm/tasks/record-index.ts'
import type { Assignment, Iteration, Progress, Result, TaskSpec } from '../../src/swarm/tasks/records.ts'
import { deriveTask, type TaskView } from '../../src/swarm/tasks/task-view.ts'

/** Builders for task records as their writers would store them, for unit and simulation tests. */

export function specRecord (id: string, fields: Partial<TaskSpec> = {}): StoredRecord {
  const spec: TaskSpec = { id, swarm: 'work', prompt: `prompt of ${id}`, stages: ['coder'], maxAttempts: 3, budget: {}, submittedBy: 'A', submittedAt: 1, ...fields }
  return { key: taskKey(id), value: spec, author: spec.submittedBy }
}

export function assignmentRecord (id: string, attempt: string, worker: string | null, fields: Partial<Assignment> = {}): StoredRecord {
  const { term, n } = parseAttemptId(attempt) as { term: number, n: number }
  const value: Assignment = { term, n, stage: 0, worker, inputFrom: null, reason: 'scheduled', leader: 'L', at: 0, ...fields }
  return { key: assignmentKey(id, { term, n }), value, author: value.leader }
}

export function progressRecord (id: string, attempt: string, worker: string, fields: Partial<Progress> = {}): StoredRecord {
  const value: Progress = { worker, state: 'running', seq: 1, turn: 1, maxTurns: 8, tokens: 10, costUsd: 0, model: 'm', startedAt: 0, heartbeatAt: 0, ...fields }
  return { key: progressKey(id, parseAttemptId(attempt) as { term: number, n: number }), value, author: worker }
}

export function resultRecord (id: string, attempt: string, worker: string, fields: Partial<Result> = {}): StoredRecord {
  const value: Result = {
    worker, status: 'done', text: `answer of ${id} by ${worker} in ${attempt}`, error: null, retryable: false, role: 'coder', model: 'm', turns: 1,
    usage: { inputTokens: 5, outputTokens: 5 }, costUsd: 0, durationMs: 1, transcript: [], patterns: [], finishedAt: 0, ...fields
  }
  return { key: resultKey(id, parseAttemptId(attempt) as { term: number, n: number }), value, author: worker }
}

export function iterationRecord (id: string, attempt: string, worker: string, iteration: number, fields: Partial<Iteration> = {}): StoredRecord {
  const value: Iteration = {
    worker, iteration, checkpoint: `checkpoint ${iteration} by ${worker}`, complete: false, tokens: 10, costUsd: 0.01, model: 'm', startedAt: 0, finishedAt: 1, ...fields
  }
  return { key: iterationKey(id, parseAttemptId(attempt) as { term: number, n: number }, iteration), value, author: worker }
}

export function claimRecord (id: string, peer: string, after: string | null): StoredRecord {
  return { key: claimKey(id, peer), value: { after, at: 0 }, author: peer }
}

export function cancelRecord (id: string, by: string): StoredRecord {
  return { key: cancelKey(id), value: { by, at: 0 }, author: by }
}

export function workerRecord (peer: string, maxConcurrent: number): StoredRecord {
  return { key: workerKey(peer), value: { maxConcurrent, startedAt: 0 }, author: peer }
}

/** Derives the view of task `id` from a set of records. */
export function viewOf (records: StoredRecord[], id = 't1'): TaskView | undefined {
  const task = new RecordIndexer().index(records).tasks.get(id)
  return task === undefined ? undefined : deriveTask(task)
}
