import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { z } from 'zod'

/** Thrown when a peer sends something that does not follow a protocol: the stream is aborted with it. */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
}

/** The stream closed under a reader before a whole message arrived (the peer hung up, or the connection went). */
export class StreamEndedError extends Error {
  override name = 'StreamEndedError'
}

export interface FrameLimits {
  /** Largest frame accepted, in bytes. Larger frames abort the stream before being buffered. */
  maxFrameBytes: number
  /** How long one read may wait. */
  readTimeoutMs: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeJson (message: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(message))
}

/** Decodes a JSON frame and validates it against a schema; every failure is a ProtocolError. */
export function decodeJson<T> (bytes: Uint8Array, schema: z.ZodType<T>): T {
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(bytes))
  } catch {
    throw new ProtocolError('frame is not UTF-8 JSON')
  }
  const result = schema.safeParse(parsed)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new ProtocolError(`invalid message: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'rejected'}`)
  }
  return result.data
}

/**
 * Length-prefixed JSON messages over a libp2p stream, with a frame cap and a per-read timeout.
 * Both directions share one object so a handler reads like a conversation.
 */
export class JsonFrames<In, Out> {
  readonly #lp
  readonly #schema: z.ZodType<In>
  readonly #limits: FrameLimits

  constructor (stream: Stream, schema: z.ZodType<In>, limits: FrameLimits) {
    this.#lp = lpStream(stream, { maxDataLength: limits.maxFrameBytes })
    this.#schema = schema
    this.#limits = limits
  }

  async read (): Promise<In> {
    const signal = AbortSignal.timeout(this.#limits.readTimeoutMs)
    let bytes
    try {
      bytes = await this.#lp.read({ signal })
    } catch (err) {
      if (signal.aborted) throw new ProtocolError(`no message within ${this.#limits.readTimeoutMs} ms`)
      if (err instanceof Error && /length/i.test(err.name + err.message)) {
        throw new ProtocolError(`frame larger than ${this.#limits.maxFrameBytes} bytes`)
      }
      // A stream closed under the reader rejects with its close event, not an Error.
      if (err instanceof Event) throw new StreamEndedError(`the stream closed (${err.type}) before a whole message arrived`)
      throw err
    }
    return decodeJson(bytes.subarray(), this.#schema)
  }

  async write (message: Out): Promise<void> {
    const bytes = encodeJson(message)
    if (bytes.byteLength > this.#limits.maxFrameBytes) {
      throw new ProtocolError(`refusing to send a ${bytes.byteLength}-byte frame (cap ${this.#limits.maxFrameBytes})`)
    }
    await this.#lp.write(bytes, { signal: AbortSignal.timeout(this.#limits.readTimeoutMs) })
  }
}
