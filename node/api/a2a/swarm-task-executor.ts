import { randomUUID } from 'node:crypto'
import { Role, TaskState, type Message, type Part, type Task } from '@a2a-js/sdk'
import { AgentEvent, type AgentExecutor, type ExecutionEventBus, type RequestContext } from '@a2a-js/sdk/server'
import type { PeerflowNode } from '../../core/peerflow-node.ts'
import type { TaskReport } from '../types.ts'
import { swarmTargetOf } from './swarm-target.ts'

const POLL_MS = 200

/** How a peerflow task state reads in A2A. */
const A2A_STATE: Record<TaskReport['state'], TaskState> = {
  submitted: TaskState.TASK_STATE_SUBMITTED,
  // Waiting for the tasks it depends on: accepted, not started.
  waiting: TaskState.TASK_STATE_SUBMITTED,
  // An approval gate: someone must approve or reject it (`peerflow task approve|reject`).
  'input-required': TaskState.TASK_STATE_INPUT_REQUIRED,
  assigned: TaskState.TASK_STATE_WORKING,
  running: TaskState.TASK_STATE_WORKING,
  done: TaskState.TASK_STATE_COMPLETED,
  failed: TaskState.TASK_STATE_FAILED,
  cancelled: TaskState.TASK_STATE_CANCELED
}

function textPart (text: string): Part {
  return { content: { $case: 'text', value: text }, mediaType: 'text/plain', filename: '', metadata: undefined }
}

function agentMessage (taskId: string, contextId: string, text: string): Message {
  return { messageId: randomUUID(), contextId, taskId, role: Role.ROLE_AGENT, parts: [textPart(text)], metadata: undefined, extensions: [], referenceTaskIds: [] }
}

function statusText (report: TaskReport): string {
  if (report.state === 'done') return report.result ?? ''
  if (report.state === 'failed') return report.error ?? 'the task failed'
  if (report.state === 'cancelled') return 'cancelled'
  return report.assignee === null ? 'waiting for a worker' : `${report.state} on ${report.assignee}`
}

interface Running {
  peerflowTaskId: string
  contextId: string
  stopped: boolean
}

/**
 * Runs each A2A message as a peerflow swarm task: submits it through this node, then follows the
 * replicated task record and reports its states, ending with the result as an artifact.
 */
export class SwarmTaskExecutor implements AgentExecutor {
  readonly #node: PeerflowNode
  readonly #running = new Map<string, Running>()

  constructor (node: PeerflowNode) {
    this.#node = node
  }

  execute = async (context: RequestContext, bus: ExecutionEventBus): Promise<void> => {
    const { taskId, contextId } = context
    const target = swarmTargetOf(this.#node, context.request)
    const submitted = await this.#node.tasks.submit({ swarm: target.swarm, prompt: target.prompt, role: target.role })
    const running: Running = { peerflowTaskId: submitted.id, contextId, stopped: false }
    this.#running.set(taskId, running)
    const task: Task = {
      id: taskId,
      contextId,
      status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() },
      artifacts: [],
      history: [context.userMessage],
      metadata: { peerflowTaskId: submitted.id, swarm: submitted.swarm, role: submitted.role }
    }
    bus.publish(AgentEvent.task(task))
    try {
      await this.#follow(taskId, running, bus)
    } finally {
      this.#running.delete(taskId)
      bus.finished()
    }
  }

  cancelTask = async (taskId: string, bus: ExecutionEventBus): Promise<void> => {
    const running = this.#running.get(taskId)
    if (running === undefined) return
    running.stopped = true
    await this.#node.tasks.cancel(running.peerflowTaskId)
    this.#publishStatus(bus, taskId, running.contextId, TaskState.TASK_STATE_CANCELED, 'cancelled')
  }

  async #follow (taskId: string, running: Running, bus: ExecutionEventBus): Promise<void> {
    let reported: TaskState = TaskState.TASK_STATE_SUBMITTED
    for (;;) {
      if (running.stopped) return
      let report: TaskReport
      try {
        report = this.#node.tasks.show(running.peerflowTaskId)
      } catch (err) {
        this.#publishStatus(bus, taskId, running.contextId, TaskState.TASK_STATE_FAILED, `lost track of the task: ${(err as Error).message}`)
        return
      }
      const state = A2A_STATE[report.state]
      if (state === TaskState.TASK_STATE_COMPLETED) {
        bus.publish(AgentEvent.artifactUpdate({
          taskId,
          contextId: running.contextId,
          artifact: { artifactId: `${report.id}-result`, name: 'result', description: `${report.role} answer from the ${report.swarm} swarm`, parts: [textPart(report.result ?? '')], metadata: undefined, extensions: [] },
          append: false,
          lastChunk: true,
          metadata: undefined
        }))
      }
      if (state !== reported || state === TaskState.TASK_STATE_COMPLETED) {
        reported = state
        this.#publishStatus(bus, taskId, running.contextId, state, statusText(report))
      }
      if (report.state === 'done' || report.state === 'failed' || report.state === 'cancelled') return
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
  }

  #publishStatus (bus: ExecutionEventBus, taskId: string, contextId: string, state: TaskState, text: string): void {
    bus.publish(AgentEvent.statusUpdate({
      taskId,
      contextId,
      status: { state, message: agentMessage(taskId, contextId, text), timestamp: new Date().toISOString() },
      metadata: undefined
    }))
  }
}
