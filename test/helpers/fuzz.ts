import fc from 'fast-check'
import { ProtocolError } from '../../protocols/framing.ts'

/** Longest a single decode of one (at most 1 MiB) frame may take before it counts as a hang. */
export const DECODE_BUDGET_MS = 500

/**
 * Runs a decoder on hostile input. It may return, or refuse with a ProtocolError; anything else
 * escaping (TypeError, RangeError...) fails the property, and so does a decode slower than the budget.
 */
export function decodeOrRefuse<T> (decode: () => T, budgetMs = DECODE_BUDGET_MS): T | undefined {
  const started = performance.now()
  let result: T | undefined
  try {
    result = decode()
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err
  }
  const elapsed = performance.now() - started
  if (elapsed > budgetMs) throw new Error(`decoding took ${Math.round(elapsed)} ms (budget ${budgetMs} ms)`)
  return result
}

type Edit =
  | { kind: 'set', at: number, byte: number }
  | { kind: 'insert', at: number, bytes: Uint8Array }
  | { kind: 'delete', at: number, count: number }
  | { kind: 'truncate', at: number }
  | { kind: 'repeat', at: number, count: number }

/** Varints that decode to lengths and counts far beyond any frame, or overflow outright. */
const HUGE_VARINTS = [
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
  [0x81, 0x08]
].map((bytes) => new Uint8Array(bytes))

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(...HUGE_VARINTS)) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 64 }) })
)

function applyEdit (bytes: number[], change: Edit): number[] {
  const at = change.at % (bytes.length + 1)
  switch (change.kind) {
    case 'set':
      if (bytes.length > 0) bytes[at % bytes.length] = change.byte
      return bytes
    case 'insert':
      bytes.splice(at, 0, ...change.bytes)
      return bytes
    case 'delete':
      bytes.splice(at, change.count)
      return bytes
    case 'truncate':
      return bytes.slice(0, at)
    case 'repeat':
      // A run of the frame repeated in place: what a confused or malicious sender's retransmission looks like.
      bytes.splice(at, 0, ...bytes.slice(at, at + change.count))
      return bytes
  }
}

/** Valid frames with a few random edits: the inputs that get deepest into a decoder before going wrong. */
export function mutated (valid: fc.Arbitrary<Uint8Array>, maxEdits = 6): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: maxEdits }))
    .map(([frame, edits]) => new Uint8Array(edits.reduce(applyEdit, [...frame])))
}

/**
 * `bytes` as a view in the middle of a larger buffer full of other data, as frames arrive from a
 * stream (Uint8ArrayList.subarray): a decoder must never read, or hand out views, beyond the view.
 */
export function embedded (bytes: Uint8Array, before = 16, after = 64): Uint8Array {
  const buffer = new Uint8Array(before + bytes.byteLength + after).fill(0xaa)
  buffer.set(bytes, before)
  return buffer.subarray(before, before + bytes.byteLength)
}

/** Whether `part` lies inside `frame` (or is a copy of its own). */
export function within (part: Uint8Array, frame: Uint8Array): boolean {
  if (part.buffer !== frame.buffer) return true
  return part.byteOffset >= frame.byteOffset && part.byteOffset + part.byteLength <= frame.byteOffset + frame.byteLength
}
