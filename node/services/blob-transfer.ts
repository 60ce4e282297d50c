import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Connection, Stream } from '@libp2p/interface'
import { PeerflowError } from '../../crdt/index.ts'
import { BLOB_LIMITS, BlobReply, BlobRequest, type FileRef } from '../../protocols/blob.ts'
import { decodeJson, encodeJson, ProtocolError } from '../../protocols/framing.ts'
import { BLOB_PROTOCOL } from '../../protocols/ids.ts'
import { ADMISSION_WAIT_MS, type PeerGate } from '../admission/peer-gate.ts'
import type { Logger } from '../core/logger.ts'
import type { BlobStore, PartialBlob } from '../stores/blob-store.ts'
import type { NodeService, ProtocolHost, ServiceComponents } from './service-components.ts'

/**
 * `/peerflow/blob/1.0.0` (protocols/PROTOCOL.md): serves ranges of the blobs this node holds, and
 * fetches a blob from the peers that may hold it — the ones named first, then every admitted peer
 * — resuming where the previous try stopped, and keeping the bytes only if their SHA-256 matches.
 */

type Reader = ReturnType<typeof lpStream>

async function readFrame (lp: Reader, what: string): Promise<Uint8Array> {
  const signal = AbortSignal.timeout(BLOB_LIMITS.readTimeoutMs)
  try {
    return (await lp.read({ signal })).subarray()
  } catch (err) {
    if (signal.aborted) throw new ProtocolError(`no ${what} within ${BLOB_LIMITS.readTimeoutMs} ms`)
    if (err instanceof Error && /length/i.test(err.name + err.message)) throw new ProtocolError(`${what} larger than ${BLOB_LIMITS.chunkBytes} bytes`)
    if (err instanceof Event) throw new Error(`the stream closed (${err.type}) before the ${what} arrived`)
    throw err
  }
}

async function readHeader<T> (lp: Reader, schema: Parameters<typeof decodeJson<T>>[1], what: string): Promise<T> {
  const bytes = await readFrame(lp, what)
  if (bytes.byteLength > BLOB_LIMITS.maxHeaderBytes) throw new ProtocolError(`${what} larger than ${BLOB_LIMITS.maxHeaderBytes} bytes`)
  return decodeJson(bytes, schema)
}

function short (peer: string): string {
  return peer.length > 16 ? `${peer.slice(0, 8)}…${peer.slice(-6)}` : peer
}

export function createBlobTransfer (components: Pick<ServiceComponents, 'gate' | 'logger'> & { host: ProtocolHost }, init: { blobs: BlobStore }): BlobTransfer {
  return new BlobTransfer(components, init)
}

export class BlobTransfer implements NodeService {
  readonly #host: ProtocolHost
  readonly #store: BlobStore
  readonly #log: Logger
  readonly #gate: PeerGate
  readonly #inbound = new Set<Stream>()
  /** One fetch per blob at a time; later callers share it. */
  readonly #fetching = new Map<string, Promise<void>>()

  #started = false

  constructor ({ host, gate, logger }: Pick<ServiceComponents, 'gate' | 'logger'> & { host: ProtocolHost }, { blobs }: { blobs: BlobStore }) {
    this.#host = host
    this.#store = blobs
    this.#log = logger.child({ component: 'blobs' })
    this.#gate = gate
  }

  isStarted (): boolean {
    return this.#started
  }

  async start (): Promise<void> {
    await this.#host.handle(BLOB_PROTOCOL, (stream, connection) => { void this.#serve(stream, connection) }, {
      maxInboundStreams: BLOB_LIMITS.maxStreams, maxOutboundStreams: BLOB_LIMITS.maxStreams
    })
    this.#started = true
  }

  async stop (): Promise<void> {
    this.#started = false
    await this.#host.unhandle(BLOB_PROTOCOL).catch(() => {})
    for (const stream of this.#inbound) stream.abort(new Error('node stopping'))
  }

  async #serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    this.#inbound.add(stream)
    const lp = lpStream(stream, { maxDataLength: BLOB_LIMITS.chunkBytes })
    const send = async (bytes: Uint8Array): Promise<void> => { await lp.write(bytes, { signal: AbortSignal.timeout(BLOB_LIMITS.readTimeoutMs) }) }
    try {
      if (!await this.#gate.whenAdmitted(peer, ADMISSION_WAIT_MS)) throw new ProtocolError('not admitted to this network')
      const request = await readHeader(lp, BlobRequest, 'blob request')
      const size = this.#store.size(request.hash)
      let reply: BlobReply
      if (size === undefined) reply = { status: 'missing' }
      else if (request.offset > size) reply = { status: 'refused', reason: `offset ${request.offset} is past the end (${size} bytes)` }
      else reply = { status: 'ok', size, offset: request.offset, length: Math.min(request.length, size - request.offset) }
      await send(encodeJson(reply))
      if (reply.status === 'ok' && reply.length > 0) {
        for await (const chunk of this.#store.read(request.hash, reply.offset, reply.offset + reply.length, BLOB_LIMITS.chunkBytes)) {
          await send(chunk as Buffer)
        }
      }
      await stream.close()
    } catch (err) {
      this.#log.debug({ peer, err: (err as Error).message }, 'blob request failed')
      stream.abort(err as Error)
    } finally {
      this.#inbound.delete(stream)
    }
  }

  /**
   * Makes sure the store holds `file`, fetching it if not: from `preferred` peers first, then any
   * admitted peer connected now. Rejects with every peer's reason when none could give it.
   */
  async fetch (file: Pick<FileRef, 'sha256' | 'size'> & { name?: string }, preferred: readonly string[] = [], signal?: AbortSignal): Promise<void> {
    if (this.#store.has(file.sha256)) return
    let running = this.#fetching.get(file.sha256)
    if (running === undefined) {
      running = this.#fetchFromPeers(file, preferred, signal).finally(() => { this.#fetching.delete(file.sha256) })
      this.#fetching.set(file.sha256, running)
    }
    await running
  }

  async #fetchFromPeers (file: Pick<FileRef, 'sha256' | 'size'> & { name?: string }, preferred: readonly string[], signal: AbortSignal | undefined): Promise<void> {
    const self = this.#host.peerId.toString()
    const connected = this.#host.getPeers().map((peer) => peer.toString())
    const candidates = [...new Set([...preferred, ...connected])].filter((peer) => peer !== self && this.#gate.isAdmitted(peer))
    const reasons: string[] = []
    const label = file.name === undefined ? file.sha256 : `${file.name} (${file.sha256.slice(0, 12)}…)`
    for (const peer of candidates) {
      signal?.throwIfAborted()
      const started = performance.now()
      let partial: PartialBlob | undefined
      try {
        partial = await this.#store.openPartial(file.sha256, file.size)
        const resumedAt = partial.offset
        try {
          if (partial.offset < file.size) await this.#download(peer, file, partial, signal)
        } finally {
          await partial.close()
        }
        await this.#store.completePartial(file.sha256)
        const seconds = (performance.now() - started) / 1000
        this.#log.info({ peer, sha256: file.sha256, bytes: file.size - resumedAt, resumedAt, mbPerSecond: Number(((file.size - resumedAt) / 1e6 / seconds).toFixed(1)) }, 'blob fetched')
        return
      } catch (err) {
        if (signal?.aborted === true) throw err
        if (err instanceof PeerflowError && err.kind === 'too-large' && partial === undefined) throw err
        reasons.push(`${short(peer)}: ${(err as Error).message}`)
        this.#log.info({ peer, sha256: file.sha256, err: (err as Error).message }, 'blob not fetched from this peer; trying the next')
      }
    }
    await this.#store.discardPartial(file.sha256)
    throw new PeerflowError('unavailable', `could not fetch ${label} from any peer: ${reasons.length === 0 ? 'no admitted peer connected' : reasons.join('; ')}`)
  }

  async #download (peer: string, file: Pick<FileRef, 'sha256' | 'size'>, partial: PartialBlob, signal: AbortSignal | undefined): Promise<void> {
    const opening = AbortSignal.timeout(BLOB_LIMITS.readTimeoutMs)
    const stream = await this.#host.dialProtocol(peerIdFromString(peer), BLOB_PROTOCOL, { signal: signal === undefined ? opening : AbortSignal.any([signal, opening]) })
    const onAbort = (): void => { stream.abort(new Error('fetch cancelled')) }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const lp = lpStream(stream, { maxDataLength: BLOB_LIMITS.chunkBytes })
      const request: BlobRequest = { hash: file.sha256, offset: partial.offset, length: file.size - partial.offset }
      await lp.write(encodeJson(request), { signal: AbortSignal.timeout(BLOB_LIMITS.readTimeoutMs) })
      const reply = await readHeader(lp, BlobReply, 'blob reply header')
      if (reply.status === 'missing') throw new PeerflowError('not-found', 'does not have it')
      if (reply.status === 'refused') throw new ProtocolError(`refused: ${reply.reason}`)
      if (reply.size !== file.size) throw new ProtocolError(`holds ${reply.size} bytes under that hash, not ${file.size}`)
      if (reply.offset !== request.offset || reply.length !== request.length) throw new ProtocolError('answered another range than the one asked')
      let received = 0
      while (received < reply.length) {
        const chunk = await readFrame(lp, 'blob data')
        received += chunk.byteLength
        if (received > reply.length) throw new ProtocolError('sent more bytes than it announced')
        await partial.write(chunk)
      }
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
      throw err
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }
}
