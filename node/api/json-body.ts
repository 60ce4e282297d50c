import type { IncomingMessage } from 'node:http'
import { HttpError } from './route.ts'

/** Every HTTP endpoint of the node reads request bodies under these caps. */
export const MAX_BODY_BYTES = 1024 * 1024
export const BODY_TIMEOUT_MS = 10_000

/**
 * A request's JSON body, or undefined when it has none: at most MAX_BODY_BYTES (413), within
 * BODY_TIMEOUT_MS (408), and JSON (400); each refusal is an HttpError with that status.
 */
export async function readJsonBody (request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  const timer = setTimeout(() => request.destroy(new HttpError(408, 'request body not received in time')), BODY_TIMEOUT_MS)
  try {
    for await (const chunk of request) {
      size += (chunk as Buffer).byteLength
      if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`)
      chunks.push(chunk as Buffer)
    }
  } finally {
    clearTimeout(timer)
  }
  if (size === 0) return undefined
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpError(400, 'request body is not JSON')
  }
}
