import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, type CliResult, type NodeProcess } from './helpers/cli.ts'
import { nodeProcessesPerTest } from './helpers/node-processes.ts'
import { waitFor } from './helpers/nodes.ts'

const nodes = nodeProcessesPerTest()
const { dataDir } = nodes

/** A `peerflow start` process on loopback with the lexical embedder (no model to load). */
async function start (dir: string): Promise<NodeProcess> {
  return nodes.start(dir, ['--embedder', 'hash'])
}

async function cli (node: NodeProcess, ...args: string[]): Promise<CliResult> {
  return runCli([...args, '--api', node.api])
}

async function succeed (node: NodeProcess, ...args: string[]): Promise<string> {
  const result = await cli(node, ...args)
  if (result.code !== 0) throw new Error(`peerflow ${args.join(' ')} exited with ${result.code}: ${result.stderr}`)
  return result.stdout
}

/** The value of `key` as `peerflow memory get` prints it, or undefined when there is none. */
async function valueOn (node: NodeProcess, key: string): Promise<string | undefined> {
  const result = await cli(node, 'memory', 'get', key)
  return result.code === 0 ? result.stdout.trim() : undefined
}

/**
 * Keys of a namespace, read from the control API the CLI talks to: polling through the CLI would
 * spawn a process per attempt, too slow on a busy machine.
 */
async function keysOn (node: NodeProcess, namespace = 'shared-knowledge'): Promise<string[]> {
  const response = await fetch(`http://${node.api}/memory/${namespace}`)
  if (!response.ok) throw new Error(`GET /memory/${namespace} on ${node.peerId}: ${response.status}`)
  const body = await response.json() as { entries: Array<{ key: string }> }
  return body.entries.map((entry) => entry.key)
}

async function waitForKeys (nodes: NodeProcess[], keys: string[], what: string): Promise<void> {
  const expected = JSON.stringify([...keys].sort())
  for (const node of nodes) await waitFor(`${what} (${node.peerId})`, async () => JSON.stringify(await keysOn(node)) === expected, 20_000, 50)
}

function quicAddress (node: NodeProcess): string {
  const addr = node.addresses.find((a) => a.includes('/quic-v1/'))
  if (addr === undefined) throw new Error(`no QUIC address in the banner of ${node.peerId}`)
  return addr
}

describe('memory durability across node processes', () => {
  it('keeps what `memory store` confirmed when the node is SIGKILLed right after', async () => {
    const dir = await dataDir()
    const first = await start(dir)
    // A burst of concurrent writes through the API (committed in shared batches), then one by the CLI.
    const burst = Array.from({ length: 20 }, (_, i) => `burst-${String(i).padStart(2, '0')}`)
    await Promise.all(burst.map(async (key) => {
      const response = await fetch(`http://${first.api}/memory/task-queue`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, value: `value of ${key}` })
      })
      expect(response.status).toBe(200)
    }))
    expect(await succeed(first, 'memory', 'store', 'decision', 'use QUIC first')).toMatch(/^stored shared-knowledge\/decision/)
    // No grace period: the store command returning is the durability promise.
    await first.stop('SIGKILL')

    const second = await start(dir)
    expect(second.peerId).toBe(first.peerId)
    expect(await valueOn(second, 'decision')).toBe('use QUIC first')
    expect(await keysOn(second, 'task-queue')).toEqual(burst)
  })

  it('restarts any of three processes with its data, and it re-syncs the writes made while it was down', async () => {
    const dirsByNode = await Promise.all([dataDir(), dataDir(), dataDir()])
    const nodes = await Promise.all(dirsByNode.map(start))
    const [first] = nodes as [NodeProcess]
    for (const node of nodes.slice(1)) expect(await succeed(node, 'join', quicAddress(first))).toContain(`connected to ${first.peerId}`)
    await succeed(first, 'memory', 'store', 'origin', 'written before any restart')
    const written = ['origin']

    for (let down = 0; down < nodes.length; down++) {
      await waitForKeys(nodes, written, 'every node has every write so far')
      const victim = nodes[down] as NodeProcess
      const writer = nodes[(down + 1) % nodes.length] as NodeProcess
      expect(await victim.stop('SIGTERM')).toBe(0)
      await succeed(writer, 'memory', 'store', `while-${down}-was-down`, `missed by node ${down}`)
      written.push(`while-${down}-was-down`)

      const restarted = await start(dirsByNode[down] as string)
      nodes[down] = restarted
      expect(restarted.peerId).toBe(victim.peerId)
      // It kept its data (it may already have redialled a known peer and caught up, hence at least).
      expect(await keysOn(restarted)).toEqual(expect.arrayContaining(written.slice(0, -1)))
      expect(await succeed(restarted, 'join', quicAddress(writer))).toContain(`connected to ${writer.peerId}`)
      await waitFor(`node ${down} re-syncs what it missed`, async () => (await keysOn(restarted)).includes(`while-${down}-was-down`), 20_000, 50)
      expect(await valueOn(restarted, `while-${down}-was-down`)).toBe(`missed by node ${down}`)
    }

    await waitForKeys(nodes, written, 'every process ends with every write')
  })

  it('imports a JSON Lines file in whole batches that a second node receives, and writes nothing of a malformed file', async () => {
    const [first, second] = await Promise.all([start(await dataDir()), start(await dataDir())])
    expect(await succeed(second, 'join', quicAddress(first))).toContain(`connected to ${first.peerId}`)
    const dir = await dataDir()
    const lines = Array.from({ length: 1_200 }, (_, i) => JSON.stringify({ key: `doc-${i}`, value: { n: i }, ...(i === 0 ? { tags: ['first'] } : {}) }))
    const file = join(dir, 'entries.jsonl')
    await writeFile(file, `${lines.join('\n')}\n\n`)
    const imported = await cli(first, 'memory', 'import', file, '--namespace', 'imports')
    expect(imported.code, imported.stderr).toBe(0)
    expect(imported.stdout).toContain('imported 1200 entries into imports')
    // Batches of 500: progress after each.
    expect(imported.stderr.trim().split('\n')).toEqual(['imported 500/1200', 'imported 1000/1200', 'imported 1200/1200'])
    await waitFor('the second node holds every imported entry', async () => (await keysOn(second, 'imports')).length === 1_200, 20_000, 50)
    expect((await cli(second, 'memory', 'get', 'doc-7', '--namespace', 'imports', '--json')).stdout).toContain('"n": 7')

    const bad = join(dir, 'bad.jsonl')
    await writeFile(bad, `${JSON.stringify({ key: 'fresh', value: 1 })}\n{"key": "broken"\n`)
    const refused = await cli(first, 'memory', 'import', bad, '--namespace', 'imports')
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('bad.jsonl:2: not JSON')
    const twice = join(dir, 'twice.jsonl')
    await writeFile(twice, `${JSON.stringify({ key: 'fresh', value: 1 })}\n${JSON.stringify({ key: 'fresh', value: 2 })}\n`)
    expect((await cli(first, 'memory', 'import', twice, '--namespace', 'imports')).stderr).toContain("twice.jsonl:2: key 'fresh' already on line 1")
    expect((await cli(first, 'memory', 'import', join(dir, 'absent.jsonl'))).stderr).toContain('no such file')
    expect(await keysOn(first, 'imports')).not.toContain('fresh')

    // The API refuses a whole batch when one entry is invalid.
    const response = await fetch(`http://${first.api}/memory/imports/batch`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ entries: [{ key: 'fresh', value: 1 }, { key: 'no-value' }] })
    })
    expect(response.status).toBe(400)
    expect(await response.text()).toContain("missing field 'value' (entry 1)")
    expect(await keysOn(first, 'imports')).not.toContain('fresh')
  })
})
