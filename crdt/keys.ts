/*
 * LevelDB key layout (see README.md). Keys are UTF-8 strings sorted bytewise; namespace names
 * cannot contain '/', so each namespace owns the range between `ns/<name>/` and `ns/<name>0`.
 */

const ROOT = 'ns/'
const SNAPSHOT = 'snapshot'
const LOG = 'log'
const EPOCH = 'epoch'
const EPOCH_RECORD = 'record'
/** Widths that keep numeric order equal to key order for every safe integer. */
const SNAPSHOT_INDEX_DIGITS = 8
const LOG_SEQ_DIGITS = 16

export type StoredKey =
  | { readonly namespace: string, readonly kind: 'snapshot', readonly index: number }
  | { readonly namespace: string, readonly kind: 'log', readonly seq: number }
  | { readonly namespace: string, readonly kind: 'epoch' }

export function snapshotKey (namespace: string, index: number): string {
  return `${ROOT}${namespace}/${SNAPSHOT}/${String(index).padStart(SNAPSHOT_INDEX_DIGITS, '0')}`
}

export function logKey (namespace: string, seq: number): string {
  return `${ROOT}${namespace}/${LOG}/${String(seq).padStart(LOG_SEQ_DIGITS, '0')}`
}

/** The namespace's epoch record (crdt/epoch.ts); absent for epoch 0. */
export function epochKey (namespace: string): string {
  return `${ROOT}${namespace}/${EPOCH}/${EPOCH_RECORD}`
}

/** Bounds of every key of one namespace, for an iterator. */
export function namespaceRange (namespace: string): { gte: string, lt: string } {
  return { gte: `${ROOT}${namespace}/`, lt: `${ROOT}${namespace}0` }
}

const SNAPSHOT_INDEX = new RegExp(`^\\d{${SNAPSHOT_INDEX_DIGITS}}$`)
const LOG_SEQ = new RegExp(`^\\d{${LOG_SEQ_DIGITS}}$`)

export type ParsedKey = StoredKey | { readonly namespace: string, readonly kind: 'unknown' }

/**
 * Reads a key back. Anything this layout does not produce is 'unknown', with the best guess of
 * its namespace segment so corruption can be reported against it.
 */
export function parseKey (key: string): ParsedKey {
  const parts = key.split('/')
  const namespace = parts.length > 1 ? parts[1] : key
  if (parts.length === 4 && `${parts[0]}/` === ROOT) {
    if (parts[2] === SNAPSHOT && SNAPSHOT_INDEX.test(parts[3])) return { namespace, kind: 'snapshot', index: Number(parts[3]) }
    if (parts[2] === LOG && LOG_SEQ.test(parts[3])) return { namespace, kind: 'log', seq: Number(parts[3]) }
    if (parts[2] === EPOCH && parts[3] === EPOCH_RECORD) return { namespace, kind: 'epoch' }
  }
  return { namespace, kind: 'unknown' }
}
