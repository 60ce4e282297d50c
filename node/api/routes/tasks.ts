import { PeerflowError } from '../../../crdt/index.ts'
import { MAX_TASK_FILES, TaskBudget } from '../../../src/swarm/tasks/records.ts'
import { FileRef } from '../../../protocols/blob.ts'
import { ROUTE_PRIORITIES, type RoutePriority } from '../../../src/agents/index.ts'
import type { PeerflowNode } from '../../core/peerflow-node.ts'
import { TaskError } from '../../../src/swarm/tasks/task-error.ts'
import type { SubmitRequest } from '../../../src/swarm/tasks/task-service.ts'
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

function submitRequestOf (node: PeerflowNode, body: unknown): SubmitRequest {
  const fields = (body ?? {}) as { role?: unknown, stages?: unknown, maxAttempts?: unknown, budget?: unknown, files?: unknown, priority?: unknown }
  if (fields.priority !== undefined && !(ROUTE_PRIORITIES as readonly unknown[]).includes(fields.priority)) {
    throw new PeerflowError('invalid', `priority must be one of ${ROUTE_PRIORITIES.join(', ')}`)
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
    priority: fields.priority as RoutePriority | undefined
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
