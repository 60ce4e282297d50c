import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { parseRoleFile } from '../src/agents/index.ts'
import { runCli } from './helpers/cli.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { TestNetwork, waitFor } from './helpers/nodes.ts'
import { startTaskSwarm, waitForFinished } from './helpers/task-swarm.ts'

const serve = modelServersPerTest()

const SECURITY_REVIEWER = `---
name: security-reviewer
description: Reviews changes for injection and auth flaws
tools: fs__read_text_file, workspace__*
model: opus
budget:
  maxTurns: 5
---
Look for injection, missing auth checks and secrets in code.
Answer with findings, most severe first.
`

describe('role files', () => {
  it('reads Claude Code style frontmatter and the prompt after it', () => {
    const role = parseRoleFile(SECURITY_REVIEWER)
    expect(role).toMatchObject({
      name: 'security-reviewer',
      description: 'Reviews changes for injection and auth flaws',
      priority: 'quality',
      tools: ['fs__read_text_file', 'workspace__*'],
      budget: { maxTurns: 5, maxTokens: 60_000, wallTimeMs: 180_000 }
    })
    expect(role.systemPrompt).toBe('You are the security-reviewer agent. Reviews changes for injection and auth flaws\nLook for injection, missing auth checks and secrets in code.\nAnswer with findings, most severe first.')
    expect(parseRoleFile('---\nname: pinned\ndescription: d\nmodel: claude-sonnet-5-5\n---\nx')).toMatchObject({ priority: 'balanced', model: 'claude-sonnet-5-5' })
    expect(parseRoleFile('---\nname: private\ndescription: d\npriority: privacy\ntools: [a__b]\n---\nx')).toMatchObject({ priority: 'privacy', tools: ['a__b'] })
  })

  it('says where a file is wrong, by line', () => {
    expect(() => parseRoleFile('no frontmatter')).toThrow("line 1: expected YAML frontmatter starting with '---'")
    expect(() => parseRoleFile('---\nname: x\n')).toThrow("line 1: the frontmatter has no closing '---'")
    expect(() => parseRoleFile('---\nname: ok\ndescription: [unclosed\n---\nprompt')).toThrow(/^line \d: invalid YAML/)
    expect(() => parseRoleFile('---\nname: ok\ndescription: d\nbudget:\n  maxTurns: 0\n---\nprompt')).toThrow('line 4: budget.maxTurns: Too small: expected number to be >=1')
    expect(() => parseRoleFile('---\ndescription: d\nname: Bad Name\n---\nprompt')).toThrow(/^line 3: name: use lowercase letters/)
    expect(() => parseRoleFile('---\nname: coder\ndescription: d\n---\nprompt')).toThrow('line 2: name: is a built-in role')
    expect(() => parseRoleFile('---\nname: empty\ndescription: d\n---\n\n')).toThrow('line 5: the system prompt (the Markdown after the frontmatter) is empty')
  })
})

describe('user roles on a network', () => {
  const net = new TestNetwork()
  afterEach(async () => { await net.cleanup() })

  it('lists role files with their source, reports a malformed one with path and line, shares a role that another member then runs', async () => {
    const model = await serve()
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: model.url, roles: [['planner'], []] })
    const [author, member] = nodes as [PeerflowNode, PeerflowNode]
    const dir = join(author.config.dataDir, 'agents')
    await mkdir(dir)
    await writeFile(join(dir, 'security-reviewer.md'), SECURITY_REVIEWER)
    await writeFile(join(dir, 'broken.md'), '---\nname: broken\ndescription: [oops\n---\nprompt\n')

    const listed = await runCli(['agent', 'roles', '--api', author.apiAddress])
    expect(listed.code).toBe(0)
    expect(listed.stdout).toMatch(/^coder\s+built-in\s+quality\s+-\s+-\s+You write and change code\.$/m)
    expect(listed.stdout).toMatch(new RegExp(`^security-reviewer\\s+file\\s+quality\\s+fs__read_text_file,workspace__\\*\\s+${join(dir, 'security-reviewer.md').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'))
    expect(listed.stderr).toMatch(new RegExp(`^${join(dir, 'broken.md').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a \\]$`, 'm'))

    // Not shared yet: the other member does not know it, so a task for it is refused there.
    const unknown = await runCli(['task', 'submit', 'check the login', '--swarm', 'work', '--role', 'security-reviewer', '--api', member.apiAddress])
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown role 'security-reviewer'/) })

    expect((await runCli(['agent', 'share', 'security-reviewer', '--api', author.apiAddress])).stdout).toMatch(/^shared role security-reviewer from /)
    await waitFor('the shared role replicated', () => member.roles.get('security-reviewer') !== undefined)
    const seen = JSON.parse((await runCli(['agent', 'roles', '--json', '--api', member.apiAddress])).stdout) as { roles: Array<{ name: string, source: string, from: string, tools: string[] }> }
    expect(seen.roles.find((role) => role.name === 'security-reviewer')).toEqual(expect.objectContaining({ source: 'shared', from: author.peerId, tools: [] }))

    // The author offers only planner: the member runs the shared role.
    const submitted = await member.tasks.submit({ swarm: 'work', prompt: 'check the login', role: 'security-reviewer' })
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report).toMatchObject({ state: 'done', assignee: member.peerId })
    const system = (model.requests[0]?.body as { system: Array<{ text: string }> }).system[0]?.text
    expect(system).toContain('You are the security-reviewer agent.')
    expect(system).toContain('Look for injection, missing auth checks and secrets in code.')
    expect(model.requests[0]?.model).toBe('claude-opus-5-5')
  })
})
