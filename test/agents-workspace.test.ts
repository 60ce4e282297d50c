import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { workspaceTools, type AgentTool, type CommandPolicy } from '../src/agents/index.ts'
import { tempDir } from './helpers/nodes.ts'

const ctx = { signal: new AbortController().signal, role: 'coder', turn: 1 }

function tool (tools: AgentTool[], name: string): AgentTool {
  const found = tools.find((candidate) => candidate.name === `workspace__${name}`)
  if (found === undefined) throw new Error(`no workspace__${name}`)
  return found
}

async function workspaceWithSecretBeside (): Promise<{ root: string, outside: string, tools: AgentTool[] }> {
  const base = await tempDir()
  const root = join(base, 'ws')
  const outside = join(base, 'outside')
  await mkdir(join(root, 'src'), { recursive: true })
  await mkdir(outside)
  await writeFile(join(outside, 'secret.txt'), 'top secret')
  await writeFile(join(root, 'src', 'a.ts'), 'export const a = 1\nexport const b = 2\n')
  return { root, outside, tools: workspaceTools(root) }
}

describe('workspace tools', () => {
  it('list, read, write, grep and diff inside the workspace', async () => {
    const { root } = await workspaceWithSecretBeside()
    const original = join(await tempDir(), 'a.ts')
    await writeFile(original, 'export const a = 1\nexport const b = 2\n')
    const tools = workspaceTools(root, { original: (path) => path === 'src/a.ts' ? original : undefined })
    expect(tools.map((t) => t.name)).toEqual(['workspace__list', 'workspace__read', 'workspace__write', 'workspace__grep', 'workspace__diff'])
    expect(await tool(tools, 'list').run({}, ctx)).toBe('src/')
    expect(await tool(tools, 'list').run({ recursive: true }, ctx)).toBe('src/a.ts (38 bytes)')
    expect(await tool(tools, 'read').run({ path: 'src/a.ts' }, ctx)).toBe('export const a = 1\nexport const b = 2\n')
    expect(await tool(tools, 'write').run({ path: 'src/a.ts', content: 'export const a = 1\nexport const b = 3\n' }, ctx)).toBe('wrote src/a.ts (38 bytes)')
    expect(await tool(tools, 'write').run({ path: 'notes/new.md', content: 'b changed' }, ctx)).toBe('wrote notes/new.md (9 bytes)')
    expect(await readFile(join(root, 'notes', 'new.md'), 'utf8')).toBe('b changed')
    expect(await tool(tools, 'grep').run({ pattern: 'b (=|changed)' }, ctx)).toBe('notes/new.md:1: b changed\nsrc/a.ts:2: export const b = 3')
    const diff = await tool(tools, 'diff').run({ path: 'src/a.ts' }, ctx)
    expect(diff).toContain('-export const b = 2\n+export const b = 3')
    await expect(tool(tools, 'diff').run({ path: 'notes/new.md' }, ctx)).rejects.toThrow(/was not attached to the task/)
  })

  it('refuses every way out: .., absolute paths, a symlinked file, a symlinked directory', async () => {
    const { root, outside, tools } = await workspaceWithSecretBeside()
    await symlink(join(outside, 'secret.txt'), join(root, 'link.txt'))
    await symlink(outside, join(root, 'linkdir'))
    const read = tool(tools, 'read')
    const write = tool(tools, 'write')
    await expect(read.run({ path: '../outside/secret.txt' }, ctx)).rejects.toThrow("refused '../outside/secret.txt': it leaves the workspace")
    await expect(read.run({ path: 'src/../../outside/secret.txt' }, ctx)).rejects.toThrow(/it leaves the workspace/)
    await expect(read.run({ path: join(outside, 'secret.txt') }, ctx)).rejects.toThrow(/absolute paths are not allowed/)
    await expect(read.run({ path: 'link.txt' }, ctx)).rejects.toThrow(/symlink/)
    await expect(read.run({ path: 'linkdir/secret.txt' }, ctx)).rejects.toThrow(/symlink on the way points outside/)
    await expect(write.run({ path: 'linkdir/planted.txt', content: 'x' }, ctx)).rejects.toThrow(/symlink on the way points outside/)
    await expect(write.run({ path: 'link.txt', content: 'overwritten' }, ctx)).rejects.toThrow(/symlink/)
    await expect(write.run({ path: join(tmpdir(), 'planted.txt'), content: 'x' }, ctx)).rejects.toThrow(/absolute paths/)
    await expect(tool(tools, 'list').run({ path: '..' }, ctx)).rejects.toThrow(/leaves the workspace/)
    await expect(tool(tools, 'grep').run({ pattern: 'secret', path: 'linkdir' }, ctx)).rejects.toThrow(/symlink/)
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret')
  })
})

describe('workspace commands', () => {
  const policy: CommandPolicy = { allow: ['node', 'env'], timeoutMs: 1_500, maxOutputBytes: 2_048 }

  it('are not offered unless the node enables them', async () => {
    const { tools } = await workspaceWithSecretBeside()
    expect(tools.map((t) => t.name)).not.toContain('workspace__run')
  })

  it('run only allowlisted programs, in the workspace, with a scrubbed environment', async () => {
    const { root } = await workspaceWithSecretBeside()
    const run = tool(workspaceTools(root, { commands: policy }), 'run')
    await expect(run.run({ program: 'sh', args: ['-c', 'cat /etc/passwd'] }, ctx)).rejects.toThrow("'sh' is not an allowed program (allowed: node, env)")
    await expect(run.run({ program: '/usr/bin/env' }, ctx)).rejects.toThrow(/not an allowed program/)
    process.env.ANTHROPIC_API_KEY_FOR_THIS_TEST = 'sk-should-not-leak'
    try {
      const env = await run.run({ program: 'env' }, ctx) as string
      expect(env).toMatch(/^exit code 0\n/)
      expect(env).not.toContain('sk-should-not-leak')
      expect(env).toContain(`HOME=${root}`)
    } finally {
      delete process.env.ANTHROPIC_API_KEY_FOR_THIS_TEST
    }
    expect(await run.run({ program: 'node', args: ['-e', 'console.log(require("fs").readFileSync("src/a.ts","utf8").length)'] }, ctx)).toBe('exit code 0\n38\n')
    expect(await run.run({ program: 'node', args: ['-e', 'process.exit(3)'] }, ctx)).toMatch(/^exit code 3/)
  })

  it('stop a program that runs past the timeout or prints past the output cap', async () => {
    const { root } = await workspaceWithSecretBeside()
    const run = tool(workspaceTools(root, { commands: policy }), 'run')
    const started = Date.now()
    expect(await run.run({ program: 'node', args: ['-e', 'setTimeout(() => {}, 60000)'] }, ctx)).toMatch(/^stopped: no exit within 1500 ms/)
    expect(Date.now() - started).toBeLessThan(20_000)
    const flood = await run.run({ program: 'node', args: ['-e', 'for (;;) process.stdout.write("x".repeat(1000))'] }, ctx) as string
    expect(flood).toMatch(/^stopped: output passed 2048 bytes/)
    expect(flood.length).toBeLessThan(2_200)
  })
})
