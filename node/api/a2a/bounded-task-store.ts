import type { ListTasksRequest, ListTasksResponse, Task } from '@a2a-js/sdk'
import { InMemoryTaskStore, type ServerCallContext, type TaskStore } from '@a2a-js/sdk/server'

/**
 * A2A task records in memory, bounded: after `capacity` new tasks the older generation is dropped
 * (at most two generations are held). The peerflow task behind each lives on in replicated memory.
 */
export class BoundedTaskStore implements TaskStore {
  readonly #capacity: number
  #current = new InMemoryTaskStore()
  #previous = new InMemoryTaskStore()
  #ids = new Set<string>()

  constructor (capacity = 1_000) {
    this.#capacity = capacity
  }

  async save (task: Task, context: ServerCallContext): Promise<void> {
    if (!this.#ids.has(task.id)) {
      if (this.#ids.size >= this.#capacity) {
        this.#previous = this.#current
        this.#current = new InMemoryTaskStore()
        this.#ids = new Set()
      }
      this.#ids.add(task.id)
    }
    await this.#current.save(task, context)
  }

  async load (taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    return await this.#current.load(taskId, context) ?? await this.#previous.load(taskId, context)
  }

  async list (params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    return this.#current.list(params, context)
  }
}
