import { createTwoFilesPatch } from 'diff'
import { execFile } from 'node:child_process'
import { mkdir, readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { z } from 'zod'
import { defineTool, type AgentTool } from './tools.ts'
import { resolveInside, workspaceRelative } from './workspace-paths.ts'

/**
 * Built-in tools over one attempt's workspace directory: list, read, write, grep and diff files
 * inside it, and, only when the node's owner turns it on, run allowlisted programs there. Every
 * path goes through resolveInside, so nothing outside the directory is read or written.
 */

export const WORKSPACE_PREFIX = 'workspace__'
const MAX_READ_CHARS = 100_000
const MAX_WRITE_CHARS = 1_000_000
const MAX_LISTED = 500
const MAX_GREP_MATCHES = 200
const MAX_GREP_FILE_BYTES = 2 * 1024 * 1024

export interface CommandPolicy {
  /** Program names (looked up on PATH) or absolute paths that may run; nothing else does. */
  allow: readonly string[]
  timeoutMs: number
  /** stdout plus stderr kept; a program printing more is stopped. */
  maxOutputBytes: number
}

export interface WorkspaceOptions {
  /** The file as attached to the task, for `diff` against what the agent changed. */
  original?: (path: string) => string | undefined
  /** Absent: no `run` tool. */
  commands?: CommandPolicy
}

/** Environment a workspace command sees: no inherited variables beyond these, so no keys or tokens. */
function scrubbedEnv (root: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, TMPDIR: root, LANG: 'C.UTF-8' }
}

function looksBinary (bytes: Buffer): boolean {
  return bytes.subarray(0, 8_000).includes(0)
}

async function * walk (root: string, dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield * walk(root, path)
    else if (entry.isFile()) yield path
  }
}

export function workspaceTools (root: string, options: WorkspaceOptions = {}): AgentTool[] {
  const tools: AgentTool[] = [
    defineTool({
      name: `${WORKSPACE_PREFIX}list`,
      description: 'List files and directories in the task workspace (the files attached to the task are here). Paths are relative to the workspace.',
      input: z.object({ path: z.string().max(1_000).optional().describe('directory, default the workspace root'), recursive: z.boolean().optional() }),
      run: async ({ path, recursive }) => {
        const dir = await resolveInside(root, path ?? '.')
        const realRoot = await realpath(root)
        const entries: string[] = []
        if (recursive === true) {
          for await (const file of walk(realRoot, dir)) {
            entries.push(`${workspaceRelative(realRoot, file)} (${(await stat(file)).size} bytes)`)
            if (entries.length >= MAX_LISTED) break
          }
        } else {
          for (const entry of await readdir(dir, { withFileTypes: true })) {
            const full = join(dir, entry.name)
            entries.push(entry.isDirectory() ? `${workspaceRelative(realRoot, full)}/` : `${workspaceRelative(realRoot, full)} (${(await stat(full)).size} bytes)`)
            if (entries.length >= MAX_LISTED) break
          }
        }
        return entries.length === 0 ? 'empty' : entries.join('\n')
      }
    }),
    defineTool({
      name: `${WORKSPACE_PREFIX}read`,
      description: `Read a text file in the task workspace (at most ${MAX_READ_CHARS} characters from offset).`,
      input: z.object({ path: z.string().min(1).max(1_000), offset: z.number().int().min(0).optional() }),
      run: async ({ path, offset }) => {
        const bytes = await readFile(await resolveInside(root, path))
        if (looksBinary(bytes)) return `${path} is a binary file of ${bytes.byteLength} bytes`
        const text = bytes.toString('utf8')
        const start = offset ?? 0
        const part = text.slice(start, start + MAX_READ_CHARS)
        return start + part.length < text.length ? `${part}\n[${text.length - start - part.length} more characters: read again with offset ${start + part.length}]` : part
      }
    }),
    defineTool({
      name: `${WORKSPACE_PREFIX}write`,
      description: 'Create or replace a text file in the task workspace (directories are created). Files written here are returned with the task result.',
      input: z.object({ path: z.string().min(1).max(1_000), content: z.string().max(MAX_WRITE_CHARS) }),
      run: async ({ path, content }) => {
        const target = await resolveInside(root, path)
        await mkdir(dirname(target), { recursive: true })
        // Checked again now that the directories exist: one of them may have been a link all along.
        await resolveInside(root, path)
        await writeFile(target, content)
        return `wrote ${path} (${Buffer.byteLength(content)} bytes)`
      }
    }),
    defineTool({
      name: `${WORKSPACE_PREFIX}grep`,
      description: `Search text files in the task workspace for a regular expression; answers file:line: text, at most ${MAX_GREP_MATCHES} matches.`,
      input: z.object({ pattern: z.string().min(1).max(500), path: z.string().max(1_000).optional(), ignoreCase: z.boolean().optional() }),
      run: async ({ pattern, path, ignoreCase }) => {
        let regex: RegExp
        try {
          regex = new RegExp(pattern, ignoreCase === true ? 'i' : '')
        } catch (err) {
          throw new Error(`invalid regular expression: ${(err as Error).message}`)
        }
        const start = await resolveInside(root, path ?? '.')
        const realRoot = await realpath(root)
        const files = (await stat(start)).isDirectory() ? walk(realRoot, start) : (async function * () { yield start })()
        const matches: string[] = []
        for await (const file of files) {
          if ((await stat(file)).size > MAX_GREP_FILE_BYTES) continue
          const bytes = await readFile(file)
          if (looksBinary(bytes)) continue
          const lines = bytes.toString('utf8').split('\n')
          for (const [i, line] of lines.entries()) {
            if (!regex.test(line)) continue
            matches.push(`${workspaceRelative(realRoot, file)}:${i + 1}: ${line.slice(0, 300)}`)
            if (matches.length >= MAX_GREP_MATCHES) return `${matches.join('\n')}\n[stopped at ${MAX_GREP_MATCHES} matches]`
          }
        }
        return matches.length === 0 ? 'no matches' : matches.join('\n')
      }
    }),
    defineTool({
      name: `${WORKSPACE_PREFIX}diff`,
      description: 'Unified diff of a workspace file against another one, or, without `against`, against the file as it was attached to the task.',
      input: z.object({ path: z.string().min(1).max(1_000), against: z.string().max(1_000).optional() }),
      run: async ({ path, against }) => {
        const current = await readFile(await resolveInside(root, path), 'utf8')
        let before: string
        let label: string
        if (against !== undefined) {
          before = await readFile(await resolveInside(root, against), 'utf8')
          label = against
        } else {
          const original = options.original?.(path)
          if (original === undefined) throw new Error(`${path} was not attached to the task: name a file to compare it with in 'against'`)
          before = await readFile(original, 'utf8')
          label = `${path} (as attached)`
        }
        const patch = createTwoFilesPatch(label, path, before, current)
        return patch.split('\n').length <= 4 ? 'no differences' : patch
      }
    })
  ]
  if (options.commands !== undefined) tools.push(runTool(root, options.commands))
  return tools
}

function runTool (root: string, policy: CommandPolicy): AgentTool {
  return defineTool({
    name: `${WORKSPACE_PREFIX}run`,
    description: `Run a program in the task workspace, without a shell. Allowed programs: ${policy.allow.join(', ')}. Time limit ${policy.timeoutMs} ms; output capped at ${policy.maxOutputBytes} bytes.`,
    input: z.object({ program: z.string().min(1).max(200), args: z.array(z.string().max(4_000)).max(64).optional() }),
    run: async ({ program, args }, ctx) => {
      if (!policy.allow.includes(program)) throw new Error(`'${program}' is not an allowed program (allowed: ${policy.allow.join(', ') || 'none'})`)
      const cwd = await realpath(root)
      return await new Promise<string>((resolve) => {
        execFile(program, args ?? [], {
          cwd, env: scrubbedEnv(cwd), timeout: policy.timeoutMs, killSignal: 'SIGKILL', maxBuffer: policy.maxOutputBytes, signal: ctx.signal, windowsHide: true
        }, (error, stdout, stderr) => {
          const output = `${stdout}${stderr === '' ? '' : `\n[stderr]\n${stderr}`}`.slice(0, policy.maxOutputBytes)
          if (error === null) return resolve(`exit code 0\n${output}`)
          const failure = error as NodeJS.ErrnoException & { killed?: boolean, code?: number | string, signal?: string }
          if (failure.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return resolve(`stopped: output passed ${policy.maxOutputBytes} bytes\n${output}`)
          if (failure.killed === true) return resolve(`stopped: no exit within ${policy.timeoutMs} ms\n${output}`)
          if (failure.code === 'ENOENT') return resolve(`'${program}' was not found on PATH`)
          resolve(`exit code ${String(failure.code ?? failure.signal)}\n${output}`)
        })
      })
    }
  })
}
