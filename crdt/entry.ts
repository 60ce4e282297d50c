import { InvalidEntryError } from './errors.ts'

/** A libp2p PeerId in its string form. */
export type PeerId = string

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/**
 * One replicated record. Stored whole as the value of its key in the namespace's `entries` Y.Map,
 * so concurrent writes to a key resolve to one winner by Yjs's deterministic ordering.
 */
export interface Entry {
  readonly key: string
  readonly value: JsonValue
  readonly author: PeerId
  /** ms since epoch of the first write of this key (kept by later writes while the entry is live). */
  readonly createdAt: number
  readonly updatedAt: number
  /** Absent when the entry never expires. */
  readonly expiresAt?: number
  readonly tags: readonly string[]
}

export const MAX_KEY_LENGTH = 256
export const MAX_TAGS = 32
export const MAX_TAG_LENGTH = 64
export const MAX_AUTHOR_LENGTH = 128
/** Deeper values are refused: validation and Yjs's encoder both recurse. */
export const MAX_VALUE_DEPTH = 64

export const ENTRY_FIELDS: ReadonlySet<string> = new Set(['key', 'value', 'author', 'createdAt', 'updatedAt', 'expiresAt', 'tags'])

function keyProblem (key: unknown): string | undefined {
  if (typeof key !== 'string') return 'key must be a string'
  if (key.length === 0) return 'key must not be empty'
  if (key.length > MAX_KEY_LENGTH) return `key is longer than ${MAX_KEY_LENGTH} characters`
  return undefined
}

function isPlainObject (value: object): boolean {
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function jsonProblem (value: unknown, path: string, depth: number): string | undefined {
  if (depth > MAX_VALUE_DEPTH) return `${path} is nested deeper than ${MAX_VALUE_DEPTH} levels`
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path} is not a finite number`
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], `${path}[${i}]`, depth + 1)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  if (typeof value === 'object' && isPlainObject(value)) {
    for (const [field, child] of Object.entries(value)) {
      const problem = jsonProblem(child, `${path}.${field}`, depth + 1)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  return `${path} is not a JSON value`
}

function tagsProblem (tags: unknown): string | undefined {
  if (!Array.isArray(tags)) return 'tags must be an array of strings'
  if (tags.length > MAX_TAGS) return `more than ${MAX_TAGS} tags`
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_TAG_LENGTH) {
      return `every tag must be a string of 1 to ${MAX_TAG_LENGTH} characters`
    }
  }
  return undefined
}

function authorProblem (author: unknown): string | undefined {
  if (typeof author !== 'string' || author.length === 0 || author.length > MAX_AUTHOR_LENGTH) {
    return `author must be a PeerId string of 1 to ${MAX_AUTHOR_LENGTH} characters`
  }
  return undefined
}

export function timestampProblem (name: string, value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return `${name} must be a non-negative integer (ms since epoch)`
  }
  return undefined
}

function fail (problem: string | undefined): void {
  if (problem !== undefined) throw new InvalidEntryError(problem)
}

export function assertKey (key: unknown): asserts key is string {
  fail(keyProblem(key))
}

export function assertJsonValue (value: unknown): asserts value is JsonValue {
  fail(jsonProblem(value, 'value', 0))
}

export function assertTags (tags: unknown): asserts tags is string[] {
  fail(tagsProblem(tags))
}

export function assertAuthor (author: unknown): asserts author is PeerId {
  fail(authorProblem(author))
}

export function assertTimestamp (name: string, value: unknown): asserts value is number {
  fail(timestampProblem(name, value))
}

/** Checks a value that arrived from a peer: it must be exactly an Entry, nothing more. */
export function isEntry (value: unknown): value is Entry {
  if (typeof value !== 'object' || value === null || !isPlainObject(value)) return false
  const record = value as Record<string, unknown>
  if (Object.keys(record).some(field => !ENTRY_FIELDS.has(field))) return false
  if (!('value' in record)) return false
  const problem = keyProblem(record.key) ??
    jsonProblem(record.value, 'value', 0) ??
    authorProblem(record.author) ??
    timestampProblem('createdAt', record.createdAt) ??
    timestampProblem('updatedAt', record.updatedAt) ??
    (record.expiresAt === undefined ? undefined : timestampProblem('expiresAt', record.expiresAt)) ??
    tagsProblem(record.tags)
  return problem === undefined
}

export function isExpired (entry: Entry, now: number): boolean {
  return entry.expiresAt !== undefined && entry.expiresAt <= now
}

export function jsonByteLength (value: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(value))
}

/** The size an entry is accounted for in namespace limits: its JSON text. */
export function entryByteLength (entry: Entry): number {
  return Buffer.byteLength(JSON.stringify(entry))
}

/** Entries are shared by reference with the Yjs doc; freezing keeps callers from editing replicated state in place. */
export function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
