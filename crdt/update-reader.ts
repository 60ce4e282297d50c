import { isUtf8 } from 'node:buffer'

/** As lib0 decodes strings: invalid UTF-8 is an error, a leading BOM is kept. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Strings up to this length are decoded by hand when they are ASCII. */
const SHORT_STRING_BYTES = 512

export function isAscii (bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.byteLength; i++) if ((bytes[i] as number) >= 0x80) return false
  return true
}

/** Yjs content refs (the low five bits of a struct's info byte). */
export const ContentRef = { GC: 0, Deleted: 1, Json: 2, Binary: 3, String: 4, Embed: 5, Format: 6, Type: 7, Any: 8, Doc: 9, Skip: 10 } as const

/** lib0 `writeAny` type tags. */
export const AnyType = { Undefined: 127, Null: 126, Integer: 125, Float32: 124, Float64: 123, BigInt: 122, False: 121, True: 120, String: 119, Object: 118, Array: 117, Bytes: 116 } as const

/**
 * Walks Yjs's v1 update encoding (lib0 var-uints, var-ints, length-prefixed bytes and `writeAny`
 * values) without building structs: splitting needs only where each struct ends, and validation
 * decodes only the few values it checks. Reading past the end throws a RangeError.
 */
export class UpdateReader {
  readonly #bytes: Uint8Array
  #offset = 0

  constructor (bytes: Uint8Array) {
    this.#bytes = bytes
  }

  get offset (): number {
    return this.#offset
  }

  uint8 (): number {
    if (this.#offset >= this.#bytes.byteLength) throw new RangeError('truncated Yjs update')
    return this.#bytes[this.#offset++] as number
  }

  varUint (): number {
    let value = 0
    let factor = 1
    for (;;) {
      const byte = this.uint8()
      value += (byte & 0x7f) * factor
      if (byte < 0x80) return value
      factor *= 128
      if (factor > Number.MAX_SAFE_INTEGER) throw new RangeError('var-uint out of range in a Yjs update')
    }
  }

  /** A lib0 var-int: sign in the first byte's bit 6, then 6 bits, then 7 bits per byte. */
  varInt (): number {
    let byte = this.uint8()
    const negative = (byte & 0x40) !== 0
    let value = byte & 0x3f
    let factor = 64
    while (byte >= 0x80) {
      byte = this.uint8()
      value += (byte & 0x7f) * factor
      factor *= 128
      if (factor > Number.MAX_SAFE_INTEGER) throw new RangeError('var-int out of range in a Yjs update')
    }
    return negative ? -value : value
  }

  float32 (): number {
    const start = this.#offset
    this.skip(4)
    return this.#view().getFloat32(start)
  }

  float64 (): number {
    const start = this.#offset
    this.skip(8)
    return this.#view().getFloat64(start)
  }

  #dataView: DataView | undefined

  #view (): DataView {
    this.#dataView ??= new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength)
    return this.#dataView
  }

  /** A var-string, decoded as lib0 does (short ASCII ones without TextDecoder, whose per-call cost dominates for them). */
  string (): string {
    const bytes = this.varBytes()
    if (bytes.byteLength <= SHORT_STRING_BYTES && isAscii(bytes)) return String.fromCharCode.apply(null, bytes as unknown as number[])
    return utf8.decode(bytes)
  }

  /**
   * Skips a var-string, which must be valid UTF-8 (lib0 refuses to decode anything else), and
   * returns its UTF-16 length; its bytes end at `offset` (no view is made: one per string cost
   * more than the check). Valid UTF-8 maps one-to-one to strings, so equal bytes mean equal strings.
   */
  skipString (): number {
    const length = this.varUint()
    const start = this.#offset
    this.skip(length)
    const bytes = this.#bytes
    let units = 0
    let ascii = true
    for (let i = start; i < this.#offset; i++) {
      const byte = bytes[i] as number
      if (byte >= 0x80) ascii = false
      // Continuation bytes add nothing; a four-byte sequence is a surrogate pair.
      if ((byte & 0xc0) !== 0x80) units += byte >= 0xf0 ? 2 : 1
    }
    if (!ascii && !isUtf8(bytes.subarray(start, this.#offset))) throw new RangeError('invalid UTF-8 in a Yjs update')
    return units
  }

  /** Whether bytes [start, end) equal `expected`. */
  bytesEqual (start: number, end: number, expected: Uint8Array): boolean {
    if (end - start !== expected.byteLength) return false
    for (let i = 0; i < expected.byteLength; i++) if (this.#bytes[start + i] !== expected[i]) return false
    return true
  }

  /** The bytes [start, end) of the update. */
  slice (start: number, end: number): Uint8Array {
    return this.#bytes.subarray(start, end)
  }

  /** Skips a var-uint or lib0 var-int: both continue while the high bit is set. */
  skipVarNumber (): void {
    while (this.uint8() >= 0x80);
  }

  skip (count: number): void {
    if (this.#offset + count > this.#bytes.byteLength) throw new RangeError('truncated Yjs update')
    this.#offset += count
  }

  /** Length-prefixed bytes (a var-string or a var-uint8-array). */
  varBytes (): Uint8Array {
    const length = this.varUint()
    const start = this.#offset
    this.skip(length)
    return this.#bytes.subarray(start, this.#offset)
  }

  /** Skips one value in lib0's `writeAny` encoding. */
  skipAny (): void {
    const type = this.uint8()
    switch (type) {
      case AnyType.Undefined: case AnyType.Null: case AnyType.False: case AnyType.True: return
      case AnyType.Integer: this.skipVarNumber(); return
      case AnyType.Float32: this.skip(4); return
      case AnyType.Float64: case AnyType.BigInt: this.skip(8); return
      case AnyType.String: case AnyType.Bytes: this.varBytes(); return
      case AnyType.Object: {
        const keys = this.varUint()
        for (let i = 0; i < keys; i++) {
          this.varBytes()
          this.skipAny()
        }
        return
      }
      case AnyType.Array: {
        const items = this.varUint()
        for (let i = 0; i < items; i++) this.skipAny()
        return
      }
      default: throw new RangeError(`unknown value type ${type} in a Yjs update`)
    }
  }
}

