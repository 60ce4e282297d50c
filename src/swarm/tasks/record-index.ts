import { parseAttemptId, parseKey, type AttemptRef } from './keys.ts'
import { Assignment, BudgetSetting, Cancel, Claim, Decision, Grant, Iteration, Progress, Result, TaskSpec, WorkerInfo } from './records.ts'

/** One entry of the tasks namespace as the store hands it out. */
export interface StoredRecord {
  key: string
  value: unknown
  author: string
}

export interface AttemptRecords {
  id: string
  ref: AttemptRef
  assignment?: Assignment
  progress?: Progress
  result?: Result
  /** Loop iterations this attempt recorded, by number. */
  iterations: Map<number, Iteration>
}

export interface TaskRecords {
  id: string
  /** The entries this task was built from, in the order given: unchanged entries mean an unchanged task. */
  sources: StoredRecord[]
  spec?: TaskSpec
  attempts: Map<string, AttemptRecords>
  /** Mesh claims by member. */
  claims: Map<string, Claim>
  /** Approval decisions by gate and deciding node (`<stage>/<peer>`). */
  decisions: Map<string, Decision>
  cancel?: Cancel
}

export interface RecordIndex {
  tasks: Map<string, TaskRecords>
  workers: Map<string, WorkerInfo>
  /** Spend allotments, every swarm and term. */
  grants: Grant[]
  /** Daily caps by swarm (null: the network's), each by the node that set it. */
  budgets: Array<{ swarm: string | null, setting: BudgetSetting }>
}

type Decoded =
  | { kind: 'spec', task: string, value: TaskSpec }
  | { kind: 'assignment', task: string, attempt: string, value: Assignment }
  | { kind: 'progress', task: string, attempt: string, value: Progress }
  | { kind: 'result', task: string, attempt: string, value: Result }
  | { kind: 'claim', task: string, peer: string, value: Claim }
  | { kind: 'iteration', task: string, attempt: string, value: Iteration }
  | { kind: 'decision', task: string, peer: string, stage: number, value: Decision }
  | { kind: 'cancel', task: string, value: Cancel }
  | { kind: 'worker', peer: string, value: WorkerInfo }
  | { kind: 'grant', value: Grant }
  | { kind: 'budget', swarm: string | null, value: BudgetSetting }

/**
 * Validates a record and checks that it comes from its one allowed writer (the author the store
 * recorded). Malformed or misattributed records are ignored rather than trusted.
 */
function decode (record: StoredRecord): Decoded | undefined {
  const key = parseKey(record.key)
  if (key === undefined) return undefined
  switch (key.kind) {
    case 'spec': {
      const parsed = TaskSpec.safeParse(record.value)
      return parsed.success && parsed.data.id === key.task && parsed.data.submittedBy === record.author ? { ...key, value: parsed.data } : undefined
    }
    case 'assignment': {
      const parsed = Assignment.safeParse(record.value)
      const ref = parseAttemptId(key.attempt)
      const matches = parsed.success && ref !== undefined && parsed.data.term === ref.term && parsed.data.n === ref.n && parsed.data.leader === record.author
      return matches ? { ...key, kind: 'assignment', value: parsed.data } : undefined
    }
    case 'progress': {
      const parsed = Progress.safeParse(record.value)
      return parsed.success && parsed.data.worker === record.author ? { ...key, kind: 'progress', value: parsed.data } : undefined
    }
    case 'result': {
      const parsed = Result.safeParse(record.value)
      return parsed.success && parsed.data.worker === record.author ? { ...key, kind: 'result', value: parsed.data } : undefined
    }
    case 'iteration': {
      const parsed = Iteration.safeParse(record.value)
      const matches = parsed.success && parsed.data.iteration === key.iteration && parsed.data.worker === record.author
      return matches ? { kind: 'iteration', task: key.task, attempt: key.attempt, value: parsed.data } : undefined
    }
    case 'decision': {
      const parsed = Decision.safeParse(record.value)
      const matches = parsed.success && key.peer === record.author && parsed.data.by === record.author && (parsed.data.stage ?? 0) === key.stage
      return matches ? { ...key, value: parsed.data } : undefined
    }
    case 'claim': {
      const parsed = Claim.safeParse(record.value)
      return parsed.success && key.peer === record.author ? { ...key, value: parsed.data } : undefined
    }
    case 'cancel': {
      const parsed = Cancel.safeParse(record.value)
      return parsed.success && parsed.data.by === record.author ? { ...key, value: parsed.data } : undefined
    }
    case 'worker': {
      const parsed = WorkerInfo.safeParse(record.value)
      return parsed.success && key.peer === record.author ? { ...key, value: parsed.data } : undefined
    }
    case 'grant': {
      const parsed = Grant.safeParse(record.value)
      const matches = parsed.success && parsed.data.leader === record.author && parsed.data.swarm === key.swarm && parsed.data.term === key.term && parsed.data.seq === key.seq
      return matches ? { kind: 'grant', value: parsed.data } : undefined
    }
    case 'budget': {
      const parsed = BudgetSetting.safeParse(record.value)
      return parsed.success && parsed.data.by === record.author && key.peer === record.author ? { kind: 'budget', swarm: key.swarm, value: parsed.data } : undefined
    }
  }
}

/**
 * Groups the namespace's entries by task. Decoding is cached per entry object: the store hands out
 * the same object until the entry changes, so a pass over thousands of settled records is cheap.
 */
export class RecordIndexer {
  #cache = new WeakMap<object, Decoded | null>()

  index (records: Iterable<StoredRecord>): RecordIndex {
    const tasks = new Map<string, TaskRecords>()
    const workers = new Map<string, WorkerInfo>()
    const grants: Grant[] = []
    const budgets: RecordIndex['budgets'] = []
    const taskOf = (id: string): TaskRecords => {
      let task = tasks.get(id)
      if (task === undefined) {
        task = { id, sources: [], attempts: new Map(), claims: new Map(), decisions: new Map() }
        tasks.set(id, task)
      }
      return task
    }
    for (const record of records) {
      const decoded = this.#decode(record)
      if (decoded === undefined) continue
      if (decoded.kind === 'worker') {
        workers.set(decoded.peer, decoded.value)
        continue
      }
      if (decoded.kind === 'grant') {
        grants.push(decoded.value)
        continue
      }
      if (decoded.kind === 'budget') {
        budgets.push({ swarm: decoded.swarm, setting: decoded.value })
        continue
      }
      const task = taskOf(decoded.task)
      task.sources.push(record)
      switch (decoded.kind) {
        case 'spec': task.spec = decoded.value; break
        case 'cancel': task.cancel = decoded.value; break
        case 'claim': task.claims.set(decoded.peer, decoded.value); break
        case 'decision': task.decisions.set(`${decoded.stage}/${decoded.peer}`, decoded.value); break
        default: {
          let attempt = task.attempts.get(decoded.attempt)
          if (attempt === undefined) {
            attempt = { id: decoded.attempt, ref: parseAttemptId(decoded.attempt) as AttemptRef, iterations: new Map() }
            task.attempts.set(decoded.attempt, attempt)
          }
          if (decoded.kind === 'assignment') attempt.assignment = decoded.value
          else if (decoded.kind === 'progress') attempt.progress = decoded.value
          else if (decoded.kind === 'iteration') attempt.iterations.set(decoded.value.iteration, decoded.value)
          else attempt.result = decoded.value
        }
      }
    }
    return { tasks, workers, grants, budgets }
  }

  #decode (record: StoredRecord): Decoded | undefined {
    const cached = this.#cache.get(record)
    if (cached !== undefined) return cached ?? undefined
    const decoded = decode(record)
    this.#cache.set(record, decoded ?? null)
    return decoded
  }
}
