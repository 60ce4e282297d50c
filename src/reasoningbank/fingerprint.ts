import { createHash } from 'node:crypto'

/** Digest of one embedding's float32 bytes: tells whether the vector a name is indexed under changed. */
export function embeddingDigest (embedding: ArrayLike<number>): string {
  const bytes = Float32Array.from(embedding)
  return createHash('sha256').update(new Uint8Array(bytes.buffer)).digest('base64url').slice(0, 16)
}

/**
 * Order-independent digest of a set of (name, embedding digest) entries. Equal fingerprints of a saved
 * index and of the store mean the index holds exactly the store's vectors, so it need not be rebuilt.
 */
export function fingerprint (entries: Iterable<readonly [name: string, digest: string]>): string {
  const lines = [...entries].map(([name, digest]) => `${JSON.stringify(name)} ${digest}`).sort()
  const hash = createHash('sha256')
  for (const line of lines) hash.update(`${line}\n`)
  return hash.digest('hex')
}
