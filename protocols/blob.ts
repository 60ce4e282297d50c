import { z } from 'zod'

/**
 * Files that travel with tasks, over `/peerflow/blob/1.0.0`. A blob is named by the SHA-256 of its
 * bytes; a reader asks for a byte range of one blob and gets a header frame, then the bytes in data
 * frames. Ranges are what make a transfer resumable: a reader cut off asks again (here or at another
 * peer) from where it stopped, and checks the whole file's hash at the end.
 */
export const BLOB_LIMITS = {
  /** The request and the reply header are small JSON frames. */
  maxHeaderBytes: 4 * 1024,
  /** Data frames carry at most this many bytes. */
  chunkBytes: 64 * 1024,
  /** How long one read may wait, for the header or for the next data frame. */
  readTimeoutMs: 10_000,
  /** Concurrent transfers per connection, each way. */
  maxStreams: 8,
  /** The largest blob anyone serves or fetches. */
  maxBlobBytes: 4 * 1024 * 1024 * 1024
} as const

export const SHA256_HEX = /^[0-9a-f]{64}$/
export const BlobHash = z.string().regex(SHA256_HEX, 'expected a SHA-256 as 64 lowercase hex digits')

/** Bytes [offset, offset + length) of the blob, or up to its end if it is shorter. */
export const BlobRequest = z.object({
  hash: BlobHash,
  offset: z.number().int().min(0).max(BLOB_LIMITS.maxBlobBytes),
  length: z.number().int().min(1).max(BLOB_LIMITS.maxBlobBytes)
}).strict()
export type BlobRequest = z.infer<typeof BlobRequest>

export const BlobReply = z.discriminatedUnion('status', [
  /** `length` data bytes follow, starting at `offset` of a blob of `size` bytes. */
  z.object({ status: z.literal('ok'), size: z.number().int().min(0).max(BLOB_LIMITS.maxBlobBytes), offset: z.number().int().min(0), length: z.number().int().min(0) }).strict(),
  z.object({ status: z.literal('missing') }).strict(),
  z.object({ status: z.literal('refused'), reason: z.string().max(300) }).strict()
])
export type BlobReply = z.infer<typeof BlobReply>

/** A file as a task record names it: its bytes live in blob stores, never in replicated memory. */
export const FileRef = z.object({
  /** A relative path with '/' between parts: no empty, '.' or '..' part, no backslash. */
  name: z.string().min(1).max(255).refine(isRelativeFileName, { message: 'a relative file path without empty, . or .. parts' }),
  sha256: BlobHash,
  size: z.number().int().min(0).max(BLOB_LIMITS.maxBlobBytes)
}).strict()
export type FileRef = z.infer<typeof FileRef>

export function isRelativeFileName (name: string): boolean {
  return !name.includes('\\') && !name.includes('\0') && name.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
}
