import * as Y from 'yjs'
import { isEntry, MAX_KEY_LENGTH } from './entry.ts'
import { InvalidUpdateError } from './errors.ts'
import { ENTRIES_MAP } from './namespace.ts'

/**
 * Parent information is only encoded for an item with no neighbour to inherit it from; then it must
 * name the entries map and a valid key, matching the entry's own. Content must be one Entry (a map
 * write) or a deletion.
 */
function assertEntryItem (item: Y.Item): void {
  // Decoded, not integrated: `parent` holds the raw root name when it was encoded, which the typings do not model.
  const parent: unknown = item.parent
  if (parent !== null) {
    if (parent !== ENTRIES_MAP) throw new InvalidUpdateError(`update writes outside the "${ENTRIES_MAP}" map`)
    const key = item.parentSub
    if (key === null || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new InvalidUpdateError('update writes an invalid key')
    }
  }
  const content = item.content
  if (content instanceof Y.ContentDeleted) return
  if (!(content instanceof Y.ContentAny) || content.arr.length !== 1 || !isEntry(content.arr[0])) {
    throw new InvalidUpdateError('update writes a value that is not an entry')
  }
  if (item.parentSub !== null && content.arr[0].key !== item.parentSub) {
    throw new InvalidUpdateError('update stores an entry under another key')
  }
}

/** Rejects anything but a decodable Yjs v1 update within `maxBytes` that only writes entries. */
export function assertValidRemoteUpdate (update: unknown, maxBytes: number): asserts update is Uint8Array {
  if (!(update instanceof Uint8Array)) throw new InvalidUpdateError('update must be a Uint8Array')
  if (update.byteLength > maxBytes) {
    throw new InvalidUpdateError(`update of ${update.byteLength} bytes exceeds the ${maxBytes}-byte cap`)
  }
  let structs
  try {
    structs = Y.decodeUpdate(update).structs
  } catch (err) {
    throw new InvalidUpdateError('not a decodable Yjs update', { cause: err })
  }
  for (const struct of structs) {
    if (struct instanceof Y.Item) assertEntryItem(struct)
  }
}

/**
 * An update that passed assertValidRemoteUpdate. Only this module creates one, so the store can
 * apply it without decoding it a second time (gossip validates each message before delivering it).
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
