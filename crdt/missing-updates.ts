import * as Y from 'yjs'
import { ChunkBuilder, splitUpdate } from './update-chunks.ts'

/**
 * What a replica at `remoteStateVector` lacks, as Yjs v1 updates of at most `maxBytes`, encoded as
 * they are taken. Y.encodeStateAsUpdate encodes everything missing at once before it can be cut,
 * which kept a 100k-entry answer from sending its first byte for a second; here each chunk is
 * encoded from the doc's structs when the consumer asks for it, so sending starts at once and
 * encoding overlaps the transfer.
 *
 * The clocks to send are fixed when iteration starts; the doc may change between chunks (the
 * position is looked up again by clock each time, as Yjs splits and merges structs). The last
 * chunks carry the whole delete set, which state vectors do not track, and any structs Yjs holds
 * back for a missing dependency, as encodeStateAsUpdate would.
 */
export function * encodeMissingUpdates (doc: Y.Doc, remoteStateVector: Uint8Array, maxBytes: number): Generator<Uint8Array> {
  const remote = Y.decodeStateVector(remoteStateVector)
  const targets = [...Y.decodeStateVector(Y.encodeStateVector(doc))]
    .filter(([client, clock]) => (remote.get(client) ?? 0) < clock)
  let chunk = new ChunkBuilder()
  // One encoder for every struct, emptied before each: a fresh one per struct was a tenth of the answer's cost.
  const encoder = new Y.UpdateEncoderV1()
  for (const [client, endClock] of targets) {
    let clock = remote.get(client) ?? 0
    while (clock < endClock) {
      const structs = doc.store.clients.get(client) ?? []
      clock = Math.max(clock, structs[0]?.id.clock ?? endClock)
      let full = false
      for (let index = clock < endClock ? Y.findIndexSS(structs, clock) : structs.length; index < structs.length && clock < endClock; index++) {
        const struct = structs[index] as Y.Item | Y.GC
        encoder.restEncoder.cpos = 0
        encoder.restEncoder.bufs.length = 0
        struct.write(encoder, clock - struct.id.clock)
        const encoded = encoder.toUint8Array()
        if (chunk.size + chunk.structCost(client, clock, encoded) > maxBytes && !chunk.isEmpty) {
          full = true
          break
        }
        if (chunk.size + chunk.structCost(client, clock, encoded) > maxBytes) {
          throw new RangeError(`a ${encoded.byteLength}-byte Yjs struct does not fit in a ${maxBytes}-byte update`)
        }
        chunk.addStruct(client, clock, encoded)
        clock = struct.id.clock + struct.length
      }
      if (full) {
        yield chunk.encode()
        chunk = new ChunkBuilder()
      }
    }
  }
  if (!chunk.isEmpty) yield chunk.encode()
  // Nothing newer than this replica's own state vector: only the delete set and held-back structs.
  yield * splitUpdate(Y.encodeStateAsUpdate(doc, Y.encodeStateVector(doc)), maxBytes)
}
