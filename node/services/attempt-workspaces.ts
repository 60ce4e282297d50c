import { copyFile, mkdir, readdir, rm } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import type { FileRef } from '../../protocols/blob.ts'
import { toolAllowed, workspaceTools, WORKSPACE_PREFIX, type CommandPolicy } from '../../src/agents/index.ts'
import { MAX_TASK_FILES, type TaskSpec } from '../../src/swarm/tasks/records.ts'
import type { AttemptWorkspace, AttemptWorkspaces } from '../../src/swarm/tasks/ports.ts'
import type { BlobStore } from '../stores/blob-store.ts'
import type { BlobTransfer } from './blob-transfer.ts'

/**
 * Attempt workspaces in `<data>/workspaces/<task>-<attempt>`: the task's attached files are
 * fetched into the blob store (from the submitter first, then any peer) and copied in; afterwards
 * every file that differs from the attached ones (written by this agent, or by an earlier stage)
 * becomes a blob the result names. Tools that only look
 * (list, read, grep, diff) come with any task that has files; the others only to roles whose
 * `agents.<role>.tools` patterns name them.
 */

const LOOKING = new Set(['list', 'read', 'grep', 'diff'].map((tool) => `${WORKSPACE_PREFIX}${tool}`))

export interface AttemptWorkspaceOptions {
  dataDir: string
  blobs: BlobStore
  transfer: BlobTransfer
  /** Tool patterns of a role (`agents.<role>.tools`). */
  patterns: (role: string) => readonly string[]
  /** Absent when running programs is off. */
  commands: CommandPolicy | undefined
  maxFileBytes: number
}

async function * filesUnder (dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield * filesUnder(path)
    else if (entry.isFile()) yield path
  }
}

export class NodeAttemptWorkspaces implements AttemptWorkspaces {
  readonly #options: AttemptWorkspaceOptions

  constructor (options: AttemptWorkspaceOptions) {
    this.#options = options
  }

  async open (spec: TaskSpec, attempt: string, role: string, signal: AbortSignal, carried?: { files: readonly FileRef[], holder: string }): Promise<AttemptWorkspace> {
    const { blobs, transfer } = this.#options
    const dir = join(this.#options.dataDir, 'workspaces', `${spec.id}-${attempt}`)
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir, { recursive: true })
    const attached = new Map<string, string>()
    try {
      for (const file of spec.files ?? []) {
        await transfer.fetch(file, [spec.submittedBy], signal)
        const target = join(dir, ...file.name.split('/'))
        await mkdir(dirname(target), { recursive: true })
        await copyFile(blobs.path(file.sha256), target)
        attached.set(file.name, file.sha256)
      }
      // The previous stage's files, over the attached ones of the same name: they count as this
      // attempt's output too, so the last stage's result names every file the pipeline made.
      for (const file of carried?.files ?? []) {
        await transfer.fetch(file, carried === undefined ? [] : [carried.holder], signal)
        const target = join(dir, ...file.name.split('/'))
        await mkdir(dirname(target), { recursive: true })
        await copyFile(blobs.path(file.sha256), target)
      }
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw err
    }
    const patterns = this.#options.patterns(role)
    const tools = workspaceTools(dir, {
      original: (path) => { const sha256 = attached.get(path.split(sep).join('/').replace(/^\.\//, '')); return sha256 === undefined ? undefined : blobs.path(sha256) },
      commands: this.#options.commands
    }).filter((tool) => toolAllowed(tool.name, patterns) || ((attached.size > 0 || (carried?.files.length ?? 0) > 0) && LOOKING.has(tool.name)))
    return {
      tools,
      collect: async () => {
        const produced: FileRef[] = []
        for await (const path of filesUnder(dir)) {
          const name = relative(dir, path).split(sep).join('/')
          const stored = await blobs.importFile(path, this.#options.maxFileBytes)
          if (attached.get(name) === stored.sha256) continue
          if (produced.length >= MAX_TASK_FILES) throw new Error(`the agent wrote more than ${MAX_TASK_FILES} files`)
          produced.push({ name, ...stored })
        }
        return produced
      },
      close: async () => { await rm(dir, { recursive: true, force: true }) }
    }
  }
}
