/*
 * Splits a Yjs update (format v1) into updates of bounded size whose union is the original.
 *
 * Yjs has no public way to cut an update at a size, so this re-frames the structs itself, finding
 * their boundaries by walking the encoding (decoding every value would cost as much as applying it).
 * The v1 layout is: var-uint client count, then per client (struct count, client id, first clock,
 * structs), then the delete set: var-uint client count, then per client (client id, range count,
 * (clock, length) pairs). Each struct's bytes are copied as they are, and structs are never cut, so
 * every chunk holds whole structs and consecutive clocks per client, as Yjs requires.
 */

import { ContentRef, UpdateReader } from './update-reader.ts'

/** Upper bound of a var-uint count whose value is not known until the chunk is complete. */
const COUNT_BYTES = 5

function varUintLength (value: number): number {
  let length = 1
  while (value >= 128) {
    value = Math.floor(value / 128)
    length++
  }
  return length
}

class ByteWriter {
  readonly #bytes: Uint8Array
  #offset = 0

  constructor (length: number) {
    this.#bytes = new Uint8Array(length)
  }

  varUint (value: number): void {
    while (value >= 128) {
      this.#bytes[this.#offset++] = 0x80 | (value % 128)
      value = Math.floor(value / 128)
    }
    this.#bytes[this.#offset++] = value
  }

  bytes (bytes: Uint8Array): void {
    this.#bytes.set(bytes, this.#offset)
    this.#offset += bytes.byteLength
  }

  finish (): Uint8Array {
    return this.#bytes.subarray(0, this.#offset)
  }
}

interface StructRun {
  readonly client: number
  readonly firstClock: number
  readonly structs: Uint8Array[]
}

interface DeleteRange {
  readonly clock: number
  readonly length: number
}

export class ChunkBuilder {
  readonly #runs = new Map<number, StructRun>()
  readonly #deletes = new Map<number, DeleteRange[]>()
  /** Exact except for counts, which are reserved at their largest size. */
  #size = 2 * COUNT_BYTES

  get isEmpty (): boolean {
    return this.#runs.size === 0 && this.#deletes.size === 0
  }

  get size (): number {
    return this.#size
  }

  structCost (client: number, clock: number, encoded: Uint8Array): number {
    const header = this.#runs.has(client) ? 0 : COUNT_BYTES + varUintLength(client) + varUintLength(clock)
    return header + encoded.byteLength
  }

  addStruct (client: number, clock: number, encoded: Uint8Array): void {
    this.#size += this.structCost(client, clock, encoded)
    const run = this.#runs.get(client)
    if (run === undefined) this.#runs.set(client, { client, firstClock: clock, structs: [encoded] })
    else run.structs.push(encoded)
  }

  deleteCost (client: number, range: DeleteRange): number {
    const header = this.#deletes.has(client) ? 0 : varUintLength(client) + COUNT_BYTES
    return header + varUintLength(range.clock) + varUintLength(range.length)
  }

  addDelete (client: number, range: DeleteRange): void {
    this.#size += this.deleteCost(client, range)
    const ranges = this.#deletes.get(client)
    if (ranges === undefined) this.#deletes.set(client, [range])
    else ranges.push(range)
  }

  encode (): Uint8Array {
    const writer = new ByteWriter(this.#size)
    writer.varUint(this.#runs.size)
    for (const run of this.#runs.values()) {
      writer.varUint(run.structs.length)
      writer.varUint(run.client)
      writer.varUint(run.firstClock)
      for (const struct of run.structs) writer.bytes(struct)
    }
    writer.varUint(this.#deletes.size)
    for (const [client, ranges] of this.#deletes) {
      writer.varUint(client)
      writer.varUint(ranges.length)
      for (const range of ranges) {
        writer.varUint(range.clock)
        writer.varUint(range.length)
      }
    }
    return writer.finish()
  }
}

const utf8 = new TextDecoder()
/** Type refs of ContentType that carry a node name. */
const XML_ELEMENT_TYPE = 3
const XML_HOOK_TYPE = 5

/** Moves past one struct as Yjs's `Item.write`/`GC.write`/`Skip.write` lay it out; returns its clock length. */
function skipStruct (reader: UpdateReader): number {
  const info = reader.uint8()
  const ref = info & 0x1f
  if (ref === ContentRef.GC || ref === ContentRef.Skip) return reader.varUint()
  const hasOrigin = (info & 0x80) !== 0
  const hasRightOrigin = (info & 0x40) !== 0
  if (hasOrigin) { reader.skipVarNumber(); reader.skipVarNumber() }
  if (hasRightOrigin) { reader.skipVarNumber(); reader.skipVarNumber() }
  if (!hasOrigin && !hasRightOrigin) {
    // Parent: a root type's name, or the id of the item holding the parent type; then the map key if any.
    if (reader.varUint() === 1) reader.varBytes()
    else { reader.skipVarNumber(); reader.skipVarNumber() }
    if ((info & 0x20) !== 0) reader.varBytes()
  }
  switch (ref) {
    case ContentRef.Deleted: return reader.varUint()
    case ContentRef.Json: {
      const count = reader.varUint()
      for (let i = 0; i < count; i++) reader.varBytes()
      return count
    }
    case ContentRef.Binary: case ContentRef.Embed: reader.varBytes(); return 1
    // Yjs counts a string's clock ticks in UTF-16 code units.
    case ContentRef.String: return utf8.decode(reader.varBytes()).length
    case ContentRef.Format: reader.varBytes(); reader.varBytes(); return 1
    case ContentRef.Type: {
      const typeRef = reader.varUint()
      if (typeRef === XML_ELEMENT_TYPE || typeRef === XML_HOOK_TYPE) reader.varBytes()
      return 1
    }
    case ContentRef.Any: {
      const count = reader.varUint()
      for (let i = 0; i < count; i++) reader.skipAny()
      return count
    }
    case ContentRef.Doc: reader.varBytes(); reader.skipAny(); return 1
    default: throw new RangeError(`unknown content type ${ref} in a Yjs update`)
  }
}

/** An update with no structs and no deletions: applying it changes nothing. */
function isEmptyUpdate (update: Uint8Array): boolean {
  return update.byteLength === 2 && update[0] === 0 && update[1] === 0
}

/**
 * Returns updates, each at most `maxBytes`, that together carry everything in `update`.
 * An empty update yields no chunks. Throws RangeError if a single struct cannot fit, which the
 * store's limits (value size well below the chunk cap, remote updates capped) rule out.
 */
export function splitUpdate (update: Uint8Array, maxBytes: number): Uint8Array[] {
  if (isEmptyUpdate(update)) return []
  if (update.byteLength <= maxBytes) return [update]
  const reader = new UpdateReader(update)
  const chunks: Uint8Array[] = []
  let chunk = new ChunkBuilder()
  const makeRoom = (cost: number, describe: () => string): void => {
    if (chunk.size + cost <= maxBytes) return
    if (!chunk.isEmpty) {
      chunks.push(chunk.encode())
      chunk = new ChunkBuilder()
    }
    if (chunk.size + cost > maxBytes) throw new RangeError(`${describe()} does not fit in a ${maxBytes}-byte update`)
  }
  const clients = reader.varUint()
  for (let c = 0; c < clients; c++) {
    const structs = reader.varUint()
    const client = reader.varUint()
    let clock = reader.varUint()
    for (let i = 0; i < structs; i++) {
      const start = reader.offset
      const length = skipStruct(reader)
      const encoded = update.subarray(start, reader.offset)
      makeRoom(chunk.structCost(client, clock, encoded), () => `a ${encoded.byteLength}-byte Yjs struct`)
      chunk.addStruct(client, clock, encoded)
      clock += length
    }
  }
  const deleteClients = reader.varUint()
  for (let c = 0; c < deleteClients; c++) {
    const client = reader.varUint()
    const ranges = reader.varUint()
    for (let i = 0; i < ranges; i++) {
      const range = { clock: reader.varUint(), length: reader.varUint() }
      makeRoom(chunk.deleteCost(client, range), () => 'a deletion range')
      chunk.addDelete(client, range)
    }
  }
  if (reader.offset !== update.byteLength) throw new RangeError('trailing bytes after a Yjs update')
  if (!chunk.isEmpty) chunks.push(chunk.encode())
  return chunks
}
