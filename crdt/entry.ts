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

/**
 * Entry sizes by object: an entry is immutable once written, and each is accounted when it is
 * written, when it lands in the doc and when it is replaced, so its JSON is stringified once.
 */
const entrySizes = new WeakMap<Entry, number>()

/** The size an entry is accounted for in namespace limits: its JSON text. */
export function entryByteLength (entry: Entry): number {
  let size = entrySizes.get(entry)
  if (size === undefined) {
    size = Buffer.byteLength(JSON.stringify(entry))
    entrySizes.set(entry, size)
  }
  return size
}

/**
 * A new entry around a value whose JSON size is already known: its size is that plus the
 * fields' JSON, counted (an object's JSON is its members' JSON joined).
 */
export function newEntry (fields: Omit<Entry, 'value'>, value: JsonValue, valueBytes: number): Entry {
  // The field order of every entry written so far; Yjs encodes objects in this order.
  const entry: Entry = Object.freeze({
    key: fields.key,
    value,
    author: fields.author,
    createdAt: fields.createdAt,
    updatedAt: fields.updatedAt,
    ...(fields.expiresAt === undefined ? {} : { expiresAt: fields.expiresAt }),
    tags: Object.freeze([...fields.tags])
  })
  entrySizes.set(entry, entryBytesAround(entry) + valueBytes)
  return entry
}

/** JSON.stringify's output of a string without escapes or non-ASCII characters is the string in quotes. */
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

function stringBytes (text: string): number {
  return PLAIN_ASCII.test(text) ? text.length + 2 : Buffer.byteLength(JSON.stringify(text))
}

/** The bytes of an entry's JSON other than its value's, counted without building the text. */
function entryBytesAround (entry: Entry): number {
  // {"key":…,"value":…,"author":…,"createdAt":…,"updatedAt":…[,"expiresAt":…],"tags":[…]}
  let bytes = '{"key":,"value":,"author":,"createdAt":,"updatedAt":,"tags":[]}'.length +
    stringBytes(entry.key) + stringBytes(entry.author) + String(entry.createdAt).length + String(entry.updatedAt).length
  if (entry.expiresAt !== undefined) bytes += ',"expiresAt":'.length + String(entry.expiresAt).length
  for (const tag of entry.tags) bytes += stringBytes(tag)
  return bytes + Math.max(0, entry.tags.length - 1)
}

/** A deep copy of a valid JSON value, frozen as it is built (cheaper than structuredClone and a second walk to freeze). */
export function frozenCopy (value: JsonValue): JsonValue {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy))
  const copy: Record<string, JsonValue> = {}
  for (const field of Object.keys(value)) copy[field] = frozenCopy((value as Record<string, JsonValue>)[field] as JsonValue)
  return Object.freeze(copy)
}

/** Entries are shared by reference with the Yjs doc; freezing keeps callers from editing replicated state in place. */
export function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
