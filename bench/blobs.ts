/**
 * npm run bench:blobs — a file moving between two nodes over QUIC on 127.0.0.1:
 *
 * - `/peerflow/blob/1.0.0`: node B fetches a 100 MB blob that node A holds (length-prefixed 64 KiB
 *   frames, written to B's partial copy on disk, then hashed and moved into B's store);
 * - against a raw QUIC stream on the same connection, in the same run: A writes the same bytes
 *   as fast as the stream drains and B counts them (no framing, no disk, no hash).
 *
 * Both nodes run in this process and share one event loop. BENCH_QUICK=1 moves 20 MB instead.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { quicAddr, tempDir, TestNetwork } from '../test/helpers/nodes.ts'
import { printRows, writeResults, type BenchRow } from './lib/report.ts'

const quick = process.env.BENCH_QUICK === '1'
const SIZE = (quick ? 20 : 100) * 1_000_000
const CHUNK = 64 * 1024
/** Only this benchmark registers it, on loopback nodes it starts itself. */
const RAW_PROTOCOL = '/peerflow-bench/raw/1.0.0'
const NEVER = new AbortController().signal

async function rawTransfer (sender: PeerflowNode, receiver: PeerflowNode, payload: Uint8Array): Promise<number> {
  await sender.host.handle(RAW_PROTOCOL, async (stream) => {
    for (let offset = 0; offset < payload.byteLength; offset += CHUNK) {
      if (!stream.send(payload.subarray(offset, offset + CHUNK))) await stream.onDrain()
    }
    await stream.close()
  })
  const started = performance.now()
  const stream = await receiver.host.dialProtocol(sender.host.peerId, RAW_PROTOCOL)
  let received = 0
  for await (const chunk of stream) received += chunk.byteLength
  const seconds = (performance.now() - started) / 1000
  if (received !== payload.byteLength) throw new Error(`raw stream delivered ${received} of ${payload.byteLength} bytes`)
  return seconds
}

async function main (): Promise<void> {
  const net = new TestNetwork()
  try {
    const quota = { quotaBytes: 4 * SIZE, maxFileBytes: 2 * SIZE, graceMs: 3_600_000 }
    const holder = await net.start({ embedder: 'hash', listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], tcp: false, blobs: quota })
    const fetcher = await net.start({ embedder: 'hash', listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], tcp: false, blobs: quota })
    await fetcher.join(multiaddr(quicAddr(holder)), NEVER)
    const payload = randomBytes(SIZE)
    const source = join(await tempDir(), 'payload.bin')
    await writeFile(source, payload)
    const file = await holder.blobs.importFile(source, SIZE)

    const rawSeconds = await rawTransfer(holder, fetcher, payload)
    const started = performance.now()
    await fetcher.blobTransfer.fetch(file, [holder.peerId], NEVER)
    const blobSeconds = (performance.now() - started) / 1000
    if (!fetcher.blobs.has(file.sha256)) throw new Error('the blob did not arrive')

    const mb = SIZE / 1e6
    const rows: BenchRow[] = [
      { metric: `blob fetch of ${mb} MB (verified, on disk)`, value: mb / blobSeconds, unit: 'MB/s' },
      { metric: `raw QUIC stream, same ${mb} MB, same connection`, value: mb / rawSeconds, unit: 'MB/s' },
      { metric: 'blob fetch vs raw stream', value: (mb / blobSeconds) / (mb / rawSeconds) * 100, unit: '%' }
    ]
    printRows('files over /peerflow/blob/1.0.0 (two nodes in one process, QUIC on 127.0.0.1)', rows)
    await writeResults('blobs', rows, { sizeBytes: SIZE, blobSeconds, rawSeconds })
  } finally {
    await net.cleanup()
  }
}

await main()
