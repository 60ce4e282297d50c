import { PeerflowError } from './peerflow-error.ts'

/** An entry, key, tag or option that does not follow the entry model. */
export class InvalidEntryError extends PeerflowError {
  override name = 'InvalidEntryError'
  constructor (message: string, options?: ErrorOptions) {
    super('invalid', message, options)
  }
}

/** A namespace name or policy that cannot be used. */
export class InvalidNamespaceError extends PeerflowError {
  override name = 'InvalidNamespaceError'
  constructor (message: string, options?: ErrorOptions) {
    super('invalid', message, options)
  }
}

/** A local write refused because it would push a namespace past one of its policy limits. */
export class NamespaceLimitError extends PeerflowError {
  override name = 'NamespaceLimitError'
  readonly namespace: string
  readonly limit: string
  readonly allowed: number

  constructor (namespace: string, limit: string, allowed: number, detail: string) {
    super('conflict', `namespace "${namespace}": ${detail} exceeds ${limit} (${allowed})`)
    this.namespace = namespace
    this.limit = limit
    this.allowed = allowed
  }
}

/** Stored data of a namespace that cannot be decoded: the store refuses to open rather than drop it. */
export class CorruptNamespaceError extends PeerflowError {
  override name = 'CorruptNamespaceError'
  readonly namespace: string

  constructor (namespace: string, detail: string, options?: ErrorOptions) {
    super('unavailable', `namespace "${namespace}" is corrupt on disk: ${detail}`, options)
    this.namespace = namespace
  }
}

/** A remote update (or state vector) that is malformed, too large, or writes outside the entry model. */
export class InvalidUpdateError extends PeerflowError {
  override name = 'InvalidUpdateError'
  constructor (message: string, options?: ErrorOptions) {
    super('invalid', message, options)
  }
}

/** An operation on a store that was closed, or that became unusable after its disk failed. */
export class StoreUnavailableError extends PeerflowError {
  override name = 'StoreUnavailableError'
  constructor (message: string, options?: ErrorOptions) {
    super('unavailable', message, options)
  }
}
