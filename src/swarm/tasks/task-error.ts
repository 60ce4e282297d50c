import { PeerflowError } from '../../../crdt/index.ts'

/** A request the task layer refuses. */
export class TaskError extends PeerflowError {
  override name = 'TaskError'
  declare readonly kind: 'not-found' | 'invalid' | 'conflict'
  constructor (kind: TaskError['kind'], message: string) {
    super(kind, message)
  }
}
