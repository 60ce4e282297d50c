import { PeerflowError } from '../../../crdt/index.ts'
import { TaskBudget } from '../../../src/swarm/tasks/records.ts'
import { TaskError } from '../../../src/swarm/tasks/task-error.ts'
import type { LoopRequest, SubmitRequest } from '../../../src/swarm/tasks/task-service.ts'
import type { TaskState } from '../../../src/swarm/tasks/task-view.ts'
import { requireString, type Route } from '../route.ts'

function loopRequestOf (value: unknown): LoopRequest | undefined {
  if (value === undefined || value === null) return undefined
  const loop = value as Record<string, unknown>
  if (typeof value !== 'object') throw new PeerflowError('invalid', 'loop must be an object')
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

function submitRequestOf (body: unknown): SubmitRequest {
  const fields = (body ?? {}) as { role?: unknown, stages?: unknown, maxAttempts?: unknown, budget?: unknown, loop?: unknown }
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
    loop: loopRequestOf(fields.loop)
  }
}

export const taskSubmitRoute: Route = {
  method: 'POST',
  path: '/tasks',
  handle: async ({ node, body }) => node.tasks.submit(submitRequestOf(body))
}

export const taskListRoute: Route = {
  method: 'GET',
  path: '/tasks',
  handle: ({ node, query }) => ({
    tasks: node.tasks.list({ swarm: query.get('swarm') ?? undefined, state: (query.get('state') ?? undefined) as TaskState | undefined })
  })
}

export const taskShowRoute: Route = {
  method: 'GET',
  path: '/tasks/:id',
  handle: ({ node, params }) => node.tasks.show(params.id as string)
}

export const taskCancelRoute: Route = {
  method: 'POST',
  path: '/tasks/:id/cancel',
  handle: async ({ node, params }) => node.tasks.cancel(params.id as string)
}
