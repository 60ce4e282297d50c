import * as Y from 'yjs'
import { authorProblem, ENTRY_FIELDS, keyProblem, MAX_KEY_LENGTH, MAX_VALUE_DEPTH, tagsProblem, timestampProblem } from './entry.ts'
import { InvalidUpdateError } from './errors.ts'
import { ENTRIES_MAP } from './namespace.ts'
import { AnyType, ContentRef, UpdateReader } from './update-reader.ts'

/*
 * Validation walks the update's bytes instead of decoding it with Yjs: a full decode built every
 * struct and every value only to throw them away (Yjs decodes again to apply), and cost as much as
 * the apply itself. Only what the entry model constrains is decoded (parent, map key, and every
 * entry field but the value); the value is checked to be JSON in place. The walk accepts a subset
 * of what a decode followed by isEntry accepted (test/crdt-remote-update.test.ts checks this on
 * mutated updates), and refuses trailing bytes.
 */

function refuse (reason: string): never {
  throw new InvalidUpdateError(reason)
}

const NOT_AN_ENTRY = 'update writes a value that is not an entry'
/** Object field names lib0's decoder would not store as a plain own property. */
const PROTO_FIELD = new TextEncoder().encode('__proto__')

function isProtoField (name: Uint8Array): boolean {
  return name.byteLength === PROTO_FIELD.byteLength && name.every((byte, i) => byte === PROTO_FIELD[i])
}

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
        if (isProtoField(reader.skipString())) refuse(NOT_AN_ENTRY)
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

/** Decodes a `writeAny` value that must be a string, a number, undefined, or an array of strings (every entry field but the value). */
function readField (reader: UpdateReader): unknown {
  const type = reader.uint8()
  switch (type) {
    case AnyType.Undefined: return undefined
    case AnyType.Integer: return reader.varInt()
    case AnyType.Float32: return reader.float32()
    case AnyType.Float64: return reader.float64()
    case AnyType.String: return reader.string()
    case AnyType.Array: {
      const items = reader.varUint()
      const strings: string[] = []
      for (let i = 0; i < items; i++) {
        if (reader.uint8() !== AnyType.String) refuse(NOT_AN_ENTRY)
        strings.push(reader.string())
      }
      return strings
    }
    default: return refuse(NOT_AN_ENTRY)
  }
}

/** Checks one ContentAny holding exactly one Entry; returns the entry's key. */
function checkEntryContent (reader: UpdateReader): string {
  if (reader.varUint() !== 1 || reader.uint8() !== AnyType.Object) refuse(NOT_AN_ENTRY)
  const fieldCount = reader.varUint()
  const fields = new Map<string, unknown>()
  for (let i = 0; i < fieldCount; i++) {
    const name = reader.string()
    if (!ENTRY_FIELDS.has(name) || fields.has(name)) refuse(NOT_AN_ENTRY)
    if (name === 'value') {
      checkJsonValue(reader, 0)
      fields.set(name, true)
    } else {
      fields.set(name, readField(reader))
    }
  }
  const problem = (fields.has('value') ? undefined : 'no value') ??
    keyProblem(fields.get('key')) ??
    authorProblem(fields.get('author')) ??
    timestampProblem('createdAt', fields.get('createdAt')) ??
    timestampProblem('updatedAt', fields.get('updatedAt')) ??
    (fields.get('expiresAt') === undefined ? undefined : timestampProblem('expiresAt', fields.get('expiresAt'))) ??
    tagsProblem(fields.get('tags'))
  if (problem !== undefined) refuse(`${NOT_AN_ENTRY} (${problem})`)
  return fields.get('key') as string
}

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
  let mapKey: string | undefined
  if (!hasOrigin && !hasRightOrigin) {
    // A parent that is an item (the other branch) is a nested type: never part of the entry model.
    if (reader.varUint() !== 1 || reader.string() !== ENTRIES_MAP) refuse(`update writes outside the "${ENTRIES_MAP}" map`)
    if ((info & 0x20) !== 0) {
      mapKey = reader.string()
      if (mapKey.length === 0 || mapKey.length > MAX_KEY_LENGTH) refuse('update writes an invalid key')
    }
  }
  if (ref === ContentRef.Deleted) {
    reader.varUint()
    return
  }
  if (ref !== ContentRef.Any) refuse(NOT_AN_ENTRY)
  const key = checkEntryContent(reader)
  if (mapKey !== undefined && key !== mapKey) refuse('update stores an entry under another key')
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
