import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { runCli } from './helpers/cli.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { TestNetwork, waitFor } from './helpers/nodes.ts'
import { startTaskSwarm, waitForFinished } from './helpers/task-swarm.ts'

/** Ephemeral agents: an extra slot for one role that takes work while alive and leaves nothing running after its TTL. */

const serve = modelServersPerTest()
const net = new TestNetwork()

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => { await net.cleanup() })

describe('ephemeral agents', () => {
  it('a spawned reviewer doubles the node\'s reviewers until its TTL; the task it had in hand then moves on', async () => {
    const server = await serve({ latencyMs: 1_500 })
    // The first member only plans: every reviewer task goes to the second, which runs one agent of its own.
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url, roles: [['planner'], []], configs: [{}, { agents: { maxConcurrent: 1 } }] })
    const [a, b] = nodes as [PeerflowNode, PeerflowNode]
    const spawned = await runCli(['agent', 'spawn', '--role', 'reviewer', '--swarm', 'work', '--ttl', '4s', '--max-tokens', '2M', '--api', b.apiAddress])
    expect(spawned.code, spawned.stderr).toBe(0)
    expect(spawned.stdout).toMatch(/^spawned eph-[0-9a-f]{8}: reviewer for swarm work, /)
    const endsAt = Date.now() + 4_000
    await waitFor('the extra slot published', () => (a.memory.get('tasks', `worker/${b.peerId}`)?.value as { maxConcurrent: number } | undefined)?.maxConcurrent === 2)
    const listed = await runCli(['agent', 'list', '--api', b.apiAddress])
    expect(listed.stdout).toContain('1 ephemeral agent:')
    expect(listed.stdout).toMatch(/eph-[0-9a-f]{8} +reviewer +work +[1-4](\.\d)? s/)

    const ids: string[] = []
    for (let i = 0; i < 6; i++) ids.push((await a.tasks.submit({ swarm: 'work', prompt: `review change ${i}`, role: 'reviewer' })).id)
    let peakWhileAlive = 0
    let peakAfter = 0
    const sampler = setInterval(() => {
      const running = b.tasks.agents().filter((agent) => agent.state === 'running').length
      if (Date.now() < endsAt - 200) peakWhileAlive = Math.max(peakWhileAlive, running)
      // A moment after the TTL for the stopped agent's abort to land.
      else if (Date.now() > endsAt + 300) peakAfter = Math.max(peakAfter, running)
    }, 20)
    try {
      const reports = await waitForFinished(nodes, ids, 60_000)
      expect(reports.map((report) => report.state)).toEqual(ids.map(() => 'done'))
      expect(peakWhileAlive).toBe(2)
      expect(peakAfter).toBe(1)
      const moved = reports.filter((report) => report.attemptLog.some((attempt) => /the ephemeral agent running it ended \(its time \(4 s\) is up\)/.test(attempt.error ?? '')))
      expect(moved).toHaveLength(1)
      expect(moved[0]?.attemptLog.at(-1)?.status).toBe('done')
    } finally {
      clearInterval(sampler)
    }
    expect(b.tasks.slots()).toEqual([])
    expect((a.memory.get('tasks', `worker/${b.peerId}`)?.value as { maxConcurrent: number }).maxConcurrent).toBe(1)
  }, 90_000)

  it('refuses bad input', async () => {
    const server = await serve()
    const [a] = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url }) as [PeerflowNode, PeerflowNode]
    const badTtl = await runCli(['agent', 'spawn', '--role', 'reviewer', '--swarm', 'work', '--ttl', 'soon', '--api', a.apiAddress])
    expect(badTtl.code).toBe(2)
    const badTokens = await runCli(['agent', 'spawn', '--role', 'reviewer', '--swarm', 'work', '--ttl', '1h', '--max-tokens', 'lots', '--api', a.apiAddress])
    expect(badTokens.code).toBe(2)
    expect(badTokens.stderr).toContain('--max-tokens: expected a token count like 20000, 500k or 2M')
    const unknownSwarm = await runCli(['agent', 'spawn', '--role', 'reviewer', '--swarm', 'nope', '--ttl', '1h', '--api', a.apiAddress])
    expect(unknownSwarm.code).toBe(2)
    expect(unknownSwarm.stderr).toContain("unknown swarm 'nope'")
  })
})
