import { PeerflowError, swarmNamespace } from '../../../crdt/index.ts'
import { MAX_TASK_FILES, TaskBudget } from '../../../src/swarm/tasks/records.ts'
import { FileRef } from '../../../protocols/blob.ts'
import { ROUTE_PRIORITIES, type RoutePriority } from '../../../src/agents/index.ts'
import type { PeerflowNode } from '../../core/peerflow-node.ts'
import { TaskError } from '../../../src/swarm/tasks/task-error.ts'
import type { PlanStep } from '../../../src/swarm/tasks/plan.ts'
import type { LoopRequest, SubmitRequest } from '../../../src/swarm/tasks/task-service.ts'
import type { TaskState } from '../../../src/swarm/tasks/task-view.ts'
import { requireString, type Route } from '../route.ts'
import type { TaskListReply, TaskReport } from '../types.ts'

/** Attached files must already be in this node's blob store (PUT /blobs): peers fetch them from here. */
function attachedFiles (node: PeerflowNode, value: unknown): FileRef[] | undefined {
  if (value === undefined) return undefined
  const files = FileRef.array().max(MAX_TASK_FILES).safeParse(value)
  if (!files.success) throw new PeerflowError('invalid', `invalid files: ${files.error.issues[0]?.path.join('.') ?? ''} ${files.error.issues[0]?.message ?? 'rejected'}`)
  const names = new Set<string>()
  for (const file of files.data) {
    if (names.has(file.name)) throw new PeerflowError('invalid', `two attached files are named '${file.name}'`)
    names.add(file.name)
    if (node.blobs.size(file.sha256) !== file.size) throw new PeerflowError('not-found', `file ${file.name} (${file.sha256}) is not in this node's blob store: upload it first (PUT /blobs)`)
  }
  return files.data
}

function loopRequestOf (value: unknown): LoopRequest | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) throw new PeerflowError('invalid', 'loop must be an object')
  const loop = value as Record<string, unknown>
  for (const field of ['maxIterations', 'iterationTimeoutMs'] as const) {
    if (typeof loop[field] !== 'number') throw new PeerflowError('invalid', `loop.${field} must be a number`)
  }
  if (loop.prd !== undefined && loop.prd !== null && typeof loop.prd !== 'string') throw new PeerflowError('invalid', 'loop.prd must be a string')
  if (loop.budgetUsd !== undefined && loop.budgetUsd !== null && typeof loop.budgetUsd !== 'number') throw new PeerflowError('invalid', 'loop.budgetUsd must be a number')
  return {
    maxIterations: loop.maxIterations as number,
    iterationTimeoutMs: loop.iterationTimeoutMs as number,
    prd: (loop.prd ?? null) as string | null,
    budgetUsd: (loop.budgetUsd ?? null) as number | null
  }
}

function submitRequestOf (node: PeerflowNode, body: unknown): SubmitRequest {
  const fields = (body ?? {}) as {
    role?: unknown, stages?: unknown, maxAttempts?: unknown, budget?: unknown, files?: unknown, priority?: unknown,
    loop?: unknown, approve?: unknown, approveStages?: unknown, after?: unknown
  }
  if (fields.priority !== undefined && !(ROUTE_PRIORITIES as readonly unknown[]).includes(fields.priority)) {
    throw new PeerflowError('invalid', `priority must be one of ${ROUTE_PRIORITIES.join(', ')}`)
  }
  if (fields.approve !== undefined && typeof fields.approve !== 'boolean') throw new PeerflowError('invalid', 'approve must be a boolean')
  if (fields.approveStages !== undefined && (!Array.isArray(fields.approveStages) || fields.approveStages.some((stage) => typeof stage !== 'number'))) {
    throw new PeerflowError('invalid', 'approveStages must be an array of stage numbers')
  }
  if (fields.after !== undefined && (!Array.isArray(fields.after) || fields.after.some((id) => typeof id !== 'string'))) {
    throw new PeerflowError('invalid', 'after must be an array of task ids')
  }
  if (fields.role !== undefined && typeof fields.role !== 'string') throw new PeerflowError('invalid', 'role must be a string')
  if (fields.stages !== undefined && (!Array.isArray(fields.stages) || fields.stages.some((stage) => typeof stage !== 'string'))) {
    throw new PeerflowError('invalid', 'stages must be an array of role names')
  }
  if (fields.maxAttempts !== undefined && typeof fields.maxAttempts !== 'number') throw new PeerflowError('invalid', 'maxAttempts must be a number')
  const budget = TaskBudget.safeParse(fields.budget ?? {})
  if (!budget.success) throw new PeerflowError('invalid', `invalid budget: ${budget.error.issues[0]?.message ?? 'rejected'}`)
  return {
    swarm: requireString(body, 'swarm'),
    prompt: requireString(body, 'prompt'),
    role: fields.role,
    stages: fields.stages as string[] | undefined,
    maxAttempts: fields.maxAttempts,
    budget: budget.data,
    files: attachedFiles(node, fields.files),
    priority: fields.priority as RoutePriority | undefined,
    loop: loopRequestOf(fields.loop),
    approve: fields.approve,
    approveStages: fields.approveStages as number[] | undefined,
    after: fields.after as string[] | undefined
  }
}

export const taskSubmitRoute: Route = {
  method: 'POST',
  path: '/tasks',
  handle: async ({ node, body }): Promise<TaskReport> => node.tasks.submit(submitRequestOf(node, body))
}

export const taskListRoute: Route = {
  method: 'GET',
  path: '/tasks',
  handle: ({ node, query }): TaskListReply => {
    const swarm = query.get('swarm') ?? undefined
    // A swarm's tasks are on its members only: say so rather than list nothing.
    if (swarm !== undefined) node.replication.scope.assertReplicates(swarmNamespace(swarm))
    return { tasks: node.tasks.list({ swarm, state: (query.get('state') ?? undefined) as TaskState | undefined }) }
  }
}

export const taskShowRoute: Route = {
  method: 'GET',
  path: '/tasks/:id',
  handle: ({ node, params }): TaskReport => node.tasks.show(params.id as string)
}

export const taskCancelRoute: Route = {
  method: 'POST',
  path: '/tasks/:id/cancel',
  handle: async ({ node, params }): Promise<TaskReport> => node.tasks.cancel(params.id as string)
}

function noteOf (body: unknown): string | null {
  const note = (body as { note?: unknown } | null)?.note
  if (note === undefined || note === null) return null
  if (typeof note !== 'string') throw new PeerflowError('invalid', 'note must be a string')
  return note
}

export const taskApproveRoute: Route = {
  method: 'POST',
  path: '/tasks/:id/approve',
  handle: async ({ node, params, body }) => node.tasks.decide(params.id as string, 'approved', noteOf(body))
}

export const taskRejectRoute: Route = {
  method: 'POST',
  path: '/tasks/:id/reject',
  handle: async ({ node, params, body }) => node.tasks.decide(params.id as string, 'rejected', noteOf(body))
}

function planStepsOf (body: unknown): PlanStep[] {
  const steps = (body as { steps?: unknown } | null)?.steps
  if (!Array.isArray(steps)) throw new PeerflowError('invalid', 'steps must be an array')
  return steps.map((value, i) => {
    const step = (value ?? {}) as Record<string, unknown>
    if (typeof step.ref !== 'string' || typeof step.prompt !== 'string') throw new PeerflowError('invalid', `step ${i + 1}: ref and prompt must be strings`)
    if (step.role !== undefined && typeof step.role !== 'string') throw new PeerflowError('invalid', `step ${i + 1}: role must be a string`)
    if (step.after !== undefined && (!Array.isArray(step.after) || step.after.some((name) => typeof name !== 'string'))) {
      throw new PeerflowError('invalid', `step ${i + 1}: after must be an array of refs or task ids`)
    }
    return {
      ref: step.ref,
      prompt: step.prompt,
      ...(step.role === undefined ? {} : { role: step.role as string }),
      ...(step.after === undefined ? {} : { after: step.after as string[] }),
      approve: step.approve === true
    }
  })
}

/** Several tasks at once, naming each other in `after` by ref: a DAG the swarm runs. */
export const taskPlanRoute: Route = {
  method: 'POST',
  path: '/tasks/plan',
  handle: async ({ node, body }) => ({ tasks: await node.tasks.submitPlan(requireString(body, 'swarm'), planStepsOf(body)) })
}
