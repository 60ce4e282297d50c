import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import type { FileRef } from '../../../protocols/blob.ts'
import type { TaskReport } from '../../../src/swarm/tasks/task-report.ts'
import { CliError, type ApiClient } from '../client.ts'
import { printTable } from '../output.ts'

/** The file side of `task submit --file`, `task show --files` and `task fetch`. */

/** Uploads each file to the node's blob store; refuses (exit 2) a path that is not a readable file or a name given twice. */
export async function uploadAttachments (client: ApiClient, paths: readonly string[]): Promise<FileRef[] | undefined> {
  if (paths.length === 0) return undefined
  const names = new Set<string>()
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined)
    if (info === undefined) throw new CliError(`--file ${path}: no such file`, 2)
    if (!info.isFile()) throw new CliError(`--file ${path}: not a regular file`, 2)
    const name = basename(path)
    if (names.has(name)) throw new CliError(`--file ${path}: another attached file is also named '${name}'`, 2)
    names.add(name)
  }
  const files: FileRef[] = []
  for (const path of paths) files.push(await client.upload<FileRef>('/blobs', path, { name: basename(path) }))
  return files
}

function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`
}

export function printTaskFiles (report: TaskReport): void {
  const rows = [
    ...report.files.map((file) => ({ ...file, kind: 'attached', holder: report.submittedBy })),
    ...report.resultFiles.map((file) => ({ ...file, kind: 'produced', holder: file.worker }))
  ]
  printTable(rows, [
    { header: 'kind', value: (row) => row.kind },
    { header: 'name', value: (row) => row.name },
    { header: 'size', value: (row) => formatBytes(row.size) },
    { header: 'sha256', value: (row) => row.sha256 }
  ], `task ${report.id} has no files`)
}

async function sha256Of (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Downloads next to the target and renames once the hash checks out: a cut-off download never looks finished. */
export async function fetchTaskFile (client: ApiClient, id: string, file: string, out: string | undefined): Promise<{ path: string, size: number, sha256: string }> {
  const report = await client.request<TaskReport>('GET', `/tasks/${encodeURIComponent(id)}`)
  const all: FileRef[] = [...report.files, ...report.resultFiles]
  const wanted = all.findLast((candidate) => candidate.name === file) ?? all.findLast((candidate) => basename(candidate.name) === file)
  if (wanted === undefined) {
    throw new CliError(`task ${id} has no file '${file}'${all.length === 0 ? '' : ` (files: ${all.map((f) => f.name).join(', ')})`}`, 2)
  }
  const path = resolve(out ?? basename(wanted.name))
  const partial = join(dirname(path), `.${basename(path)}.${process.pid}.part`)
  try {
    await client.download(`/tasks/${encodeURIComponent(id)}/files/${encodeURIComponent(wanted.name)}`, partial)
    const sha256 = await sha256Of(partial)
    if (sha256 !== wanted.sha256) throw new CliError(`the bytes received for ${wanted.name} hash to ${sha256}, not ${wanted.sha256}: not saved`)
    await rename(partial, path)
    return { path, size: wanted.size, sha256 }
  } finally {
    await rm(partial, { force: true })
  }
}
