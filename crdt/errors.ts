/** An entry, key, tag or option that does not follow the entry model. */
export class InvalidEntryError extends Error {
  override name = 'InvalidEntryError'
}

/** A namespace name or policy that cannot be used. */
export class InvalidNamespaceError extends Error {
  override name = 'InvalidNamespaceError'
}

/** A local write refused because it would push a namespace past one of its policy limits. */
export class NamespaceLimitError extends Error {
  override name = 'NamespaceLimitError'
  readonly namespace: string
  readonly limit: string
  readonly allowed: number

  constructor (namespace: string, limit: string, allowed: number, detail: string) {
    super(`namespace "${namespace}": ${detail} exceeds ${limit} (${allowed})`)
    this.namespace = namespace
    this.limit = limit
    this.allowed = allowed
  }
}

/** Stored data of a namespace that cannot be decoded: the store refuses to open rather than drop it. */
export class CorruptNamespaceError extends Error {
  override name = 'CorruptNamespaceError'
  readonly namespace: string

  constructor (namespace: string, detail: string, options?: ErrorOptions) {
    super(`namespace "${namespace}" is corrupt on disk: ${detail}`, options)
    this.namespace = namespace
  }
}

/** A remote update (or state vector) that is malformed, too large, or writes outside the entry model. */
export class InvalidUpdateError extends Error {
  override name = 'InvalidUpdateError'
}

/** An operation on a store that was closed, or that became unusable after its disk failed. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError'
}
