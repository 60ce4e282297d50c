/** A request the task layer refuses; `kind` maps to an HTTP status in the control API. */
export class TaskError extends Error {
  override name = 'TaskError'
  readonly kind: 'not-found' | 'invalid' | 'conflict'
  constructor (kind: TaskError['kind'], message: string) {
    super(message)
    this.kind = kind
  }
}
