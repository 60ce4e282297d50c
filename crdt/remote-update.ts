import * as Y from 'yjs'
import { ENTRY_FIELDS, MAX_AUTHOR_LENGTH, MAX_KEY_LENGTH, MAX_TAG_LENGTH, MAX_TAGS, MAX_VALUE_DEPTH, timestampProblem } from './entry.ts'
import { InvalidUpdateError } from './errors.ts'
import { ENTRIES_MAP } from './namespace.ts'
import { AnyType, ContentRef, UpdateReader } from './update-reader.ts'

/*
 * Validation walks the update's bytes instead of decoding it with Yjs: a full decode built every
 * struct and every value only to throw them away (Yjs decodes again to apply), and cost as much as
 * the apply itself. Strings are checked as bytes (valid UTF-8, length in UTF-16 units, keys
 * compared byte for byte); timestamps are read; the value is checked to be JSON in place. The walk accepts a subset
 * of what a decode followed by isEntry accepted (test/crdt-remote-update.test.ts checks this on
 * mutated updates), and refuses trailing bytes.
 */

function refuse (reason: string): never {
  throw new InvalidUpdateError(reason)
}

const NOT_AN_ENTRY = 'update writes a value that is not an entry'
/** An object field lib0's decoder would not store as a plain own property (as a var-string). */
const PROTO_FIELD = varString('__proto__')

/** Checks one `writeAny` value is JSON (what jsonProblem accepts), `depth` levels down, without building it. */
function checkJsonValue (reader: UpdateReader, depth: number): void {
  if (depth > MAX_VALUE_DEPTH) refuse(`${NOT_AN_ENTRY} (nested deeper than ${MAX_VALUE_DEPTH} levels)`)
  const type = reader.uint8()
  switch (type) {
    case AnyType.Null: case AnyType.False: case AnyType.True: return
    case AnyType.Integer: reader.varInt(); return
    case AnyType.Float32: if (!Number.isFinite(reader.float32())) refuse(NOT_AN_ENTRY); return
    case AnyType.Float64: if (!Number.isFinite(reader.float64())) refuse(NOT_AN_ENTRY); return
    case AnyType.String: reader.skipString(); return
    case AnyType.Object: {
      const fields = reader.varUint()
      for (let i = 0; i < fields; i++) {
        const start = reader.offset
        reader.skipString()
        if (reader.bytesEqual(start, reader.offset, PROTO_FIELD)) refuse(NOT_AN_ENTRY)
        checkJsonValue(reader, depth + 1)
      }
      return
    }
    case AnyType.Array: {
      const items = reader.varUint()
      for (let i = 0; i < items; i++) checkJsonValue(reader, depth + 1)
      return
    }
    // undefined, bigint, Uint8Array and unknown tags are not JSON.
    default: refuse(NOT_AN_ENTRY)
  }
}

/** A var-string field of 1 to `max` UTF-16 units; returns where its bytes start (they end at the reader's offset). */
function readShortString (reader: UpdateReader, max: number, what: string): number {
  if (reader.uint8() !== AnyType.String) refuse(`${NOT_AN_ENTRY} (${what} is not a string)`)
  const lengthStart = reader.offset
  const length = reader.skipString()
  if (length === 0 || length > max) refuse(`${NOT_AN_ENTRY} (${what} must have 1 to ${max} characters)`)
  return lengthStart
}

function readTimestamp (reader: UpdateReader, name: string, optional: boolean): void {
  const type = reader.uint8()
  const value = type === AnyType.Integer
    ? reader.varInt()
    : type === AnyType.Float64 ? reader.float64() : type === AnyType.Float32 ? reader.float32() : undefined
  if (value === undefined && optional && type === AnyType.Undefined) return
  const problem = timestampProblem(name, value)
  if (problem !== undefined) refuse(`${NOT_AN_ENTRY} (${problem})`)
}

function readTags (reader: UpdateReader): void {
  if (reader.uint8() !== AnyType.Array) refuse(`${NOT_AN_ENTRY} (tags must be an array of strings)`)
  const count = reader.varUint()
  if (count > MAX_TAGS) refuse(`${NOT_AN_ENTRY} (more than ${MAX_TAGS} tags)`)
  for (let i = 0; i < count; i++) readShortString(reader, MAX_TAG_LENGTH, 'a tag')
}

/** Entry field names as var-strings (length prefix included), to match without decoding them. */
const FIELDS = [...ENTRY_FIELDS].map((name) => ({ name, encoded: varString(name) }))

function varString (text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text)
  if (bytes.byteLength >= 0x80) throw new RangeError('field names are short')
  return Uint8Array.of(bytes.byteLength, ...bytes)
}

function readFieldName (reader: UpdateReader): string | undefined {
  const start = reader.offset
  reader.skipString()
  for (const field of FIELDS) if (reader.bytesEqual(start, reader.offset, field.encoded)) return field.name
  return undefined
}

/** Checks one ContentAny holding exactly one Entry; returns the encoded key (length prefix included). */
function checkEntryContent (reader: UpdateReader): Uint8Array {
  if (reader.varUint() !== 1 || reader.uint8() !== AnyType.Object) refuse(NOT_AN_ENTRY)
  const fieldCount = reader.varUint()
  const seen = new Set<string>()
  let keyStart = 0
  let keyEnd = 0
  for (let i = 0; i < fieldCount; i++) {
    const name = readFieldName(reader)
    if (name === undefined || seen.has(name)) refuse(`${NOT_AN_ENTRY} (unknown or repeated field)`)
    seen.add(name)
    switch (name) {
      case 'key':
        keyStart = readShortString(reader, MAX_KEY_LENGTH, 'key')
        keyEnd = reader.offset
        break
      case 'value': checkJsonValue(reader, 0); break
      case 'author': readShortString(reader, MAX_AUTHOR_LENGTH, 'author'); break
      case 'tags': readTags(reader); break
      default: readTimestamp(reader, name, name === 'expiresAt')
    }
  }
  for (const required of REQUIRED_FIELDS) {
    if (!seen.has(required)) refuse(`${NOT_AN_ENTRY} (no ${required})`)
  }
  return reader.slice(keyStart, keyEnd)
}

const REQUIRED_FIELDS = ['key', 'value', 'author', 'createdAt', 'updatedAt', 'tags']

/**
 * One struct, as Yjs's readClientsStructRefs reads it. Parent information is only encoded for an
 * item with no neighbour to inherit it from; then it must name the entries map and a valid key,
 * matching the entry's own. Content must be one Entry (a map write) or a deletion.
 */
function checkStruct (reader: UpdateReader): void {
  const info = reader.uint8()
  const ref = info & 0x1f
  if (ref === ContentRef.GC || ref === ContentRef.Skip) {
    reader.varUint()
    return
  }
  const hasOrigin = (info & 0x80) !== 0
  const hasRightOrigin = (info & 0x40) !== 0
  if (hasOrigin) { reader.varUint(); reader.varUint() }
  if (hasRightOrigin) { reader.varUint(); reader.varUint() }
  let mapKeyStart = -1
  let mapKeyEnd = -1
  if (!hasOrigin && !hasRightOrigin) {
    // A parent that is an item (the other branch) is a nested type: never part of the entry model.
    if (reader.varUint() !== 1 || reader.string() !== ENTRIES_MAP) refuse(`update writes outside the "${ENTRIES_MAP}" map`)
    if ((info & 0x20) !== 0) {
      mapKeyStart = reader.offset
      const length = reader.skipString()
      mapKeyEnd = reader.offset
      if (length === 0 || length > MAX_KEY_LENGTH) refuse('update writes an invalid key')
    }
  }
  if (ref === ContentRef.Deleted) {
    reader.varUint()
    return
  }
  if (ref !== ContentRef.Any) refuse(NOT_AN_ENTRY)
  const key = checkEntryContent(reader)
  if (mapKeyStart >= 0 && !reader.bytesEqual(mapKeyStart, mapKeyEnd, key)) refuse('update stores an entry under another key')
}

function checkEntryUpdate (update: Uint8Array): void {
  const reader = new UpdateReader(update)
  const clients = reader.varUint()
  for (let c = 0; c < clients; c++) {
    const structs = reader.varUint()
    reader.varUint() // client
    reader.varUint() // first clock
    for (let i = 0; i < structs; i++) checkStruct(reader)
  }
  const deleteClients = reader.varUint()
  for (let c = 0; c < deleteClients; c++) {
    reader.varUint() // client
    const ranges = reader.varUint()
    for (let i = 0; i < ranges; i++) { reader.varUint(); reader.varUint() }
  }
  if (reader.offset !== update.byteLength) refuse('trailing bytes after a Yjs update')
}

/** Rejects anything but a well-formed Yjs v1 update within `maxBytes` that only writes entries. */
export function assertValidRemoteUpdate (update: unknown, maxBytes: number): asserts update is Uint8Array {
  if (!(update instanceof Uint8Array)) throw new InvalidUpdateError('update must be a Uint8Array')
  if (update.byteLength > maxBytes) {
    throw new InvalidUpdateError(`update of ${update.byteLength} bytes exceeds the ${maxBytes}-byte cap`)
  }
  try {
    checkEntryUpdate(update)
  } catch (err) {
    if (err instanceof InvalidUpdateError) throw err
    throw new InvalidUpdateError('not a decodable Yjs update', { cause: err })
  }
}

/**
 * An update that passed assertValidRemoteUpdate. Only this module creates one, so the store can
 * apply it without checking it a second time (gossip validates each message before delivering it).
 */
export interface ValidatedUpdate {
  readonly bytes: Uint8Array
}

const validatedUpdates = new WeakSet<ValidatedUpdate>()

export function validateRemoteUpdate (update: unknown, maxBytes: number): ValidatedUpdate {
  assertValidRemoteUpdate(update, maxBytes)
  const validated: ValidatedUpdate = Object.freeze({ bytes: update })
  validatedUpdates.add(validated)
  return validated
}

export function isValidatedUpdate (update: unknown): update is ValidatedUpdate {
  return typeof update === 'object' && update !== null && validatedUpdates.has(update as ValidatedUpdate)
}

/** Rejects bytes that are not an encoded Yjs state vector. */
export function assertValidStateVector (stateVector: unknown): asserts stateVector is Uint8Array {
  if (!(stateVector instanceof Uint8Array)) throw new InvalidUpdateError('state vector must be a Uint8Array')
  try {
    Y.decodeStateVector(stateVector)
  } catch (err) {
    throw new InvalidUpdateError('not a decodable Yjs state vector', { cause: err })
  }
}
