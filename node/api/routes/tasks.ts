import { PeerflowError } from '../../../crdt/index.ts'
import { TaskBudget } from '../../../src/swarm/tasks/records.ts'
import { TaskError } from '../../../src/swarm/tasks/task-error.ts'
import type { SubmitRequest } from '../../../src/swarm/tasks/task-service.ts'
import type { TaskState } from '../../../src/swarm/tasks/task-view.ts'
import { requireString, type Route } from '../route.ts'
import type { TaskListReply, TaskReport } from '../types.ts'

function submitRequestOf (body: unknown): SubmitRequest {
  const fields = (body ?? {}) as { role?: unknown, stages?: unknown, maxAttempts?: unknown, budget?: unknown }
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
    budget: budget.data
  }
}

export const taskSubmitRoute: Route = {
  method: 'POST',
  path: '/tasks',
  handle: async ({ node, body }): Promise<TaskReport> => node.tasks.submit(submitRequestOf(body))
}

export const taskListRoute: Route = {
  method: 'GET',
  path: '/tasks',
  handle: ({ node, query }): TaskListReply => ({
    tasks: node.tasks.list({ swarm: query.get('swarm') ?? undefined, state: (query.get('state') ?? undefined) as TaskState | undefined })
  })
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
