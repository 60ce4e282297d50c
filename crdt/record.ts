import { crc32 } from 'node:zlib'

/*
 * Every stored value is a 4-byte big-endian CRC-32 of the payload followed by the payload, so a
 * damaged value is detected on load instead of being decoded into something plausible but wrong.
 */

const CHECKSUM_BYTES = 4

export function encodeRecord (payload: Uint8Array): Uint8Array {
  const record = new Uint8Array(CHECKSUM_BYTES + payload.byteLength)
  new DataView(record.buffer).setUint32(0, crc32(payload))
  record.set(payload, CHECKSUM_BYTES)
  return record
}

/** The payload, or undefined when the record is truncated or its checksum does not match. */
export function decodeRecord (record: Uint8Array): Uint8Array | undefined {
  if (record.byteLength < CHECKSUM_BYTES) return undefined
  const payload = record.subarray(CHECKSUM_BYTES)
  const checksum = new DataView(record.buffer, record.byteOffset, CHECKSUM_BYTES).getUint32(0)
  return checksum === crc32(payload) ? payload : undefined
}
