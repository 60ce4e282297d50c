import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { MAX_BATCH_ENTRIES, type MemoryStoreRequest } from '../../api/types.ts'
import { CliError } from '../client.ts'
import type { PeerflowClient } from '../peerflow-client.ts'

/**
 * Entries and JSON bytes per request of `memory import`: half the API's batch cap and of its 1 MiB
 * body cap, leaving room for the envelope.
 */
const IMPORT_BATCH_ENTRIES = MAX_BATCH_ENTRIES / 2
const IMPORT_BATCH_BYTES = 512 * 1024

interface ImportLine { line: number, entry: MemoryStoreRequest, bytes: number }

/** The entries of a JSON Lines file, one `{ key, value, ttlMs?, tags? }` per line; blank lines are skipped. */
async function * importLines (path: string): AsyncGenerator<ImportLine> {
  const stream = createReadStream(path, { encoding: 'utf8' })
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => { resolve() })
    stream.once('error', reject)
  })
  try {
    await opened
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new CliError(`cannot read '${path}'${code === 'ENOENT' ? ': no such file' : `: ${(err as Error).message}`}`, 2)
  }
  let line = 0
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    line++
    if (text.trim() === '') continue
    let parsed: unknown
    try { parsed = JSON.parse(text) } catch { throw new CliError(`${path}:${line}: not JSON`, 2) }
    const fields = parsed as Partial<MemoryStoreRequest> | null
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new CliError(`${path}:${line}: not an object`, 2)
    if (typeof fields.key !== 'string' || fields.key === '') throw new CliError(`${path}:${line}: missing 'key'`, 2)
    if (fields.value === undefined) throw new CliError(`${path}:${line}: missing 'value'`, 2)
    yield { line, entry: fields as MemoryStoreRequest, bytes: Buffer.byteLength(text) }
  }
}

export interface ImportProgress { imported: number, total: number }

/**
 * Writes a JSON Lines file into `namespace`, in batches each written whole or not at all. The file
 * is read through once first, so a malformed line or a key given twice writes nothing; a batch the
 * node refuses stops the import, saying how far it got.
 */
export async function importEntries (client: PeerflowClient, namespace: string, path: string, progress: (p: ImportProgress) => void): Promise<ImportProgress> {
  const lineOfKey = new Map<string, number>()
  for await (const { line, entry } of importLines(path)) {
    const earlier = lineOfKey.get(entry.key)
    if (earlier !== undefined) throw new CliError(`${path}:${line}: key '${entry.key}' already on line ${earlier}`, 2)
    lineOfKey.set(entry.key, line)
  }
  const total = lineOfKey.size
  if (total === 0) throw new CliError(`${path}: no entries`, 2)

  let imported = 0
  let batch: ImportLine[] = []
  let batchBytes = 0
  const send = async (): Promise<void> => {
    if (batch.length === 0) return
    const first = (batch[0] as ImportLine).line
    const last = (batch.at(-1) as ImportLine).line
    try {
      await client.memory.putMany(namespace, batch.map(({ entry }) => entry))
    } catch (err) {
      throw new CliError(`imported ${imported} of ${total} entries; lines ${first}-${last} were refused: ${(err as Error).message}`)
    }
    imported += batch.length
    batch = []
    batchBytes = 0
    progress({ imported, total })
  }
  for await (const item of importLines(path)) {
    if (batch.length >= IMPORT_BATCH_ENTRIES || (batch.length > 0 && batchBytes + item.bytes > IMPORT_BATCH_BYTES)) await send()
    batch.push(item)
    batchBytes += item.bytes
  }
  await send()
  return { imported, total }
}
