import * as Y from 'yjs'

/*
 * Splits a Yjs update (format v1) into updates of bounded size whose union is the original.
 *
 * Yjs has no public way to cut an update at a size, so this re-frames the decoded structs itself.
 * The v1 layout is: var-uint client count, then per client (struct count, client id, first clock,
 * structs), then the delete set: var-uint client count, then per client (client id, range count,
 * (clock, length) pairs). Each struct is encoded by its own `write`, and structs are never cut, so
 * every chunk holds whole structs and consecutive clocks per client, as Yjs requires.
 */

type Struct = Y.Item | Y.GC | Y.Skip

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

class ChunkBuilder {
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

function encodeStruct (struct: Struct): Uint8Array {
  const encoder = new Y.UpdateEncoderV1()
  struct.write(encoder, 0)
  return encoder.toUint8Array()
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
  const { structs, ds } = Y.decodeUpdate(update)
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
  for (const struct of structs) {
    const encoded = encodeStruct(struct)
    const { client, clock } = struct.id
    makeRoom(chunk.structCost(client, clock, encoded), () => `a ${encoded.byteLength}-byte Yjs struct`)
    chunk.addStruct(client, clock, encoded)
  }
  for (const [client, items] of ds.clients) {
    for (const item of items) {
      const range = { clock: item.clock, length: item.len }
      makeRoom(chunk.deleteCost(client, range), () => 'a deletion range')
      chunk.addDelete(client, range)
    }
  }
  if (!chunk.isEmpty) chunks.push(chunk.encode())
  return chunks
}
