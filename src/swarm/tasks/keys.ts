import { NAMESPACES } from '../../../crdt/index.ts'
import { randomBytes } from 'node:crypto'

/**
 * Key layout of the `tasks` namespace (one key per record, so that no key has two writers):
 *
 *   task/<id>                   spec          submitter
 *   task/<id>/a/<term>.<n>      assignment    leader of <term>
 *   task/<id>/p/<term>.<n>      progress      worker of that attempt
 *   task/<id>/r/<term>.<n>      result        worker of that attempt
 *   task/<id>/c/<peer>          claim (mesh)  <peer>
 *   task/<id>/i/<term>.<n>/<k>  loop iteration k, run by attempt <term>.<n>: its worker
 *   task/<id>/d/<peer>          approval decision  <peer>
 *   task/<id>/d/<peer>/<stage>  approval of a stage gate  <peer>
 *   task/<id>/cancel            cancellation  whoever cancels (every writer writes the same fact)
 *   worker/<peer>               capacity      <peer>
 *   grant/<swarm>/<term>.<seq>  spend allotment    leader of <term>
 *   budget/swarm/<swarm>/<peer> swarm daily cap    <peer>
 *   budget/network/<peer>       network daily cap  <peer>
 */

export const TASKS_NAMESPACE = NAMESPACES.tasks

const TASK_ID = /^[a-z0-9][a-z0-9-]{0,63}$/
const ITERATION = /^[1-9]\d{0,5}$/
const ATTEMPT_ID = /^(\d{1,15})\.(\d{1,9})$/

/** Time-ordered (roughly) and unique without coordination. */
export function newTaskId (now: number = Date.now()): string {
  return `t-${now.toString(36)}-${randomBytes(4).toString('hex')}`
}

export function isTaskId (id: string): boolean {
  return TASK_ID.test(id)
}

/** An attempt is named by the term of the leader that created it and its number within the task. */
export interface AttemptRef {
  term: number
  n: number
}

export function attemptId ({ term, n }: AttemptRef): string {
  return `${term}.${n}`
}

export function parseAttemptId (id: string): AttemptRef | undefined {
  const match = ATTEMPT_ID.exec(id)
  return match === null ? undefined : { term: Number(match[1]), n: Number(match[2]) }
}

/** Later terms win; within a term (one leader) the later attempt wins. */
export function compareAttempts (a: AttemptRef, b: AttemptRef): number {
  return a.term - b.term || a.n - b.n
}

export const taskKey = (id: string): string => `task/${id}`
export const assignmentKey = (id: string, attempt: AttemptRef): string => `task/${id}/a/${attemptId(attempt)}`
export const progressKey = (id: string, attempt: AttemptRef): string => `task/${id}/p/${attemptId(attempt)}`
export const resultKey = (id: string, attempt: AttemptRef): string => `task/${id}/r/${attemptId(attempt)}`
export const iterationKey = (id: string, attempt: AttemptRef, iteration: number): string => `task/${id}/i/${attemptId(attempt)}/${iteration}`
export const decisionKey = (id: string, peer: string, stage = 0): string => stage === 0 ? `task/${id}/d/${peer}` : `task/${id}/d/${peer}/${stage}`
export const claimKey = (id: string, peer: string): string => `task/${id}/c/${peer}`
export const cancelKey = (id: string): string => `task/${id}/cancel`
export const grantKey = (swarm: string, term: number, seq: number): string => `grant/${swarm}/${term}.${seq}`
export const swarmBudgetKey = (swarm: string, peer: string): string => `budget/swarm/${swarm}/${peer}`
export const networkBudgetKey = (peer: string): string => `budget/network/${peer}`
export const workerKey = (peer: string): string => `worker/${peer}`

export type ParsedKey =
  | { kind: 'spec', task: string }
  | { kind: 'assignment' | 'progress' | 'result', task: string, attempt: string }
  | { kind: 'claim', task: string, peer: string }
  | { kind: 'decision', task: string, peer: string, stage: number }
  | { kind: 'iteration', task: string, attempt: string, iteration: number }
  | { kind: 'cancel', task: string }
  | { kind: 'worker', peer: string }
  | { kind: 'grant', swarm: string, term: number, seq: number }
  | { kind: 'budget', swarm: string | null, peer: string }

const ATTEMPT_KINDS = { a: 'assignment', p: 'progress', r: 'result' } as const

/** Undefined for keys outside the layout (ignored, whoever wrote them). */
export function parseKey (key: string): ParsedKey | undefined {
  const parts = key.split('/')
  if (parts[0] === 'worker' && parts.length === 2 && parts[1] !== '') return { kind: 'worker', peer: parts[1] as string }
  if (parts[0] === 'grant' && parts.length === 3 && parts[1] !== '') {
    const ref = parseAttemptId(parts[2] as string)
    return ref === undefined ? undefined : { kind: 'grant', swarm: parts[1] as string, term: ref.term, seq: ref.n }
  }
  if (parts[0] === 'budget') {
    if (parts[1] === 'network' && parts.length === 3 && parts[2] !== '') return { kind: 'budget', swarm: null, peer: parts[2] as string }
    if (parts[1] === 'swarm' && parts.length === 4 && parts[2] !== '' && parts[3] !== '') return { kind: 'budget', swarm: parts[2] as string, peer: parts[3] as string }
    return undefined
  }
  if (parts[0] !== 'task' || parts.length < 2 || !isTaskId(parts[1] as string)) return undefined
  const task = parts[1] as string
  if (parts.length === 2) return { kind: 'spec', task }
  if (parts.length === 3 && parts[2] === 'cancel') return { kind: 'cancel', task }
  if (parts.length === 5 && parts[2] === 'd' && parts[3] !== '' && /^[1-9]$/.test(parts[4] as string)) {
    return { kind: 'decision', task, peer: parts[3] as string, stage: Number(parts[4]) }
  }
  if (parts.length === 5 && parts[2] === 'i') {
    const [, , , attempt, number] = parts as [string, string, string, string, string]
    if (parseAttemptId(attempt) === undefined || !ITERATION.test(number)) return undefined
    return { kind: 'iteration', task, attempt, iteration: Number(number) }
  }
  if (parts.length !== 4 || parts[3] === '') return undefined
  const [, , tag, rest] = parts as [string, string, string, string]
  if (tag === 'c') return { kind: 'claim', task, peer: rest }
  if (tag === 'd') return { kind: 'decision', task, peer: rest, stage: 0 }
  const kind = ATTEMPT_KINDS[tag as keyof typeof ATTEMPT_KINDS]
  if (kind === undefined || parseAttemptId(rest) === undefined) return undefined
  return { kind, task, attempt: rest }
}
