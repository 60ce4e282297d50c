import { TaskBudget } from '../../../src/swarm/tasks/records.ts'
import { TaskError } from '../../../src/swarm/tasks/task-error.ts'
import type { SubmitRequest } from '../../../src/swarm/tasks/task-service.ts'
import type { TaskState } from '../../../src/swarm/tasks/task-view.ts'
import { HttpError, requireString, type Route } from '../route.ts'

const STATUS_OF_KIND: Record<TaskError['kind'], number> = { 'not-found': 404, invalid: 400, conflict: 409 }

async function answer<T> (work: () => T | Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    if (err instanceof TaskError) throw new HttpError(STATUS_OF_KIND[err.kind], err.message)
    throw err
  }
}

function submitRequestOf (body: unknown): SubmitRequest {
  const fields = (body ?? {}) as { role?: unknown, stages?: unknown, maxAttempts?: unknown, budget?: unknown }
  if (fields.role !== undefined && typeof fields.role !== 'string') throw new HttpError(400, 'role must be a string')
  if (fields.stages !== undefined && (!Array.isArray(fields.stages) || fields.stages.some((stage) => typeof stage !== 'string'))) {
    throw new HttpError(400, 'stages must be an array of role names')
  }
  if (fields.maxAttempts !== undefined && typeof fields.maxAttempts !== 'number') throw new HttpError(400, 'maxAttempts must be a number')
  const budget = TaskBudget.safeParse(fields.budget ?? {})
  if (!budget.success) throw new HttpError(400, `invalid budget: ${budget.error.issues[0]?.message ?? 'rejected'}`)
  return {
    swarm: requireString(body, 'swarm'),
    prompt: requireString(body, 'prompt'),
    role: fields.role,
    stages: fields.stages as string[] | undefined,
    maxAttempts: fields.maxAttempts,
    budget: budget.data
  }
}

export const taskSubmitRoute: Route = {
  method: 'POST',
  path: '/tasks',
  handle: async ({ node, body }) => answer(async () => node.tasks.submit(submitRequestOf(body)))
}

export const taskListRoute: Route = {
  method: 'GET',
  path: '/tasks',
  handle: ({ node, query }) => answer(() => ({
    tasks: node.tasks.list({ swarm: query.get('swarm') ?? undefined, state: (query.get('state') ?? undefined) as TaskState | undefined })
  }))
}

export const taskShowRoute: Route = {
  method: 'GET',
  path: '/tasks/:id',
  handle: ({ node, params }) => answer(() => node.tasks.show(params.id as string))
}

export const taskCancelRoute: Route = {
  method: 'POST',
  path: '/tasks/:id/cancel',
  handle: async ({ node, params }) => answer(async () => node.tasks.cancel(params.id as string))
}
