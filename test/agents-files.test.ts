import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { BlobStore } from '../node/stores/blob-store.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { runCli } from './helpers/cli.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { quicAddr, tempDir, TestNetwork, waitFor } from './helpers/nodes.ts'
import { startTaskSwarm, waitForFinished } from './helpers/task-swarm.ts'

const serve = modelServersPerTest()
const never = new AbortController().signal

function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

async function storeIn (live: Set<string> = new Set(), quotaBytes = 10_000, graceMs = 0): Promise<BlobStore> {
  return await BlobStore.open({ dir: join(await tempDir(), 'blobs'), quotaBytes, graceMs, liveHashes: () => live })
}

async function fileOf (bytes: Uint8Array, name = 'f.bin'): Promise<string> {
  const path = join(await tempDir(), name)
  await writeFile(path, bytes)
  return path
}

describe('the blob store', () => {
  it('names a file by its SHA-256 and serves ranges of it', async () => {
    const store = await storeIn()
    const bytes = randomBytes(3_000)
    const stored = await store.importFile(await fileOf(bytes), 1e9)
    expect(stored).toEqual({ sha256: sha256(bytes), size: 3_000 })
    const chunks: Buffer[] = []
    for await (const chunk of store.read(stored.sha256, 100, 200)) chunks.push(chunk as Buffer)
    expect(Buffer.concat(chunks)).toEqual(bytes.subarray(100, 200))
  })

  it('refuses a file past the quota, after removing what no live task refers to', async () => {
    const live = new Set<string>()
    const store = await storeIn(live, 10_000)
    const kept = await store.importFile(await fileOf(randomBytes(4_000)), 1e9)
    live.add(kept.sha256)
    const orphan = await store.importFile(await fileOf(randomBytes(4_000)), 1e9)
    // 8,000 used; 4,000 more only fits once the orphan goes.
    const third = await store.importFile(await fileOf(randomBytes(4_000)), 1e9)
    expect(store.has(orphan.sha256)).toBe(false)
    expect(store.has(kept.sha256)).toBe(true)
    expect(store.has(third.sha256)).toBe(true)
    live.add(third.sha256)
    await expect(store.importFile(await fileOf(randomBytes(4_000)), 1e9)).rejects.toThrow(/the blob store is full: 8000 of 10000 bytes used by files live tasks refer to/)
    expect(store.usage()).toEqual({ bytes: 8_000, blobs: 2, quotaBytes: 10_000 })
    await expect(store.importFile(await fileOf(randomBytes(100)), 50)).rejects.toThrow('file larger than 50 bytes')
  })

  it('keeps an unreferenced file through its grace period, then collects it', async () => {
    const store = await storeIn(new Set(), 10_000, 60_000)
    const fresh = await store.importFile(await fileOf(randomBytes(10)), 1e9)
    expect((await store.collect()).removed).toBe(0)
    expect(store.has(fresh.sha256)).toBe(true)
    const reopened = await BlobStore.open({ dir: join(store.path(fresh.sha256), '..'), quotaBytes: 10_000, graceMs: 0, liveHashes: () => new Set() })
    expect(reopened.has(fresh.sha256)).toBe(true)
    expect(await reopened.collect()).toEqual({ removed: 1, freedBytes: 10 })
  })
})

describe('/peerflow/blob/1.0.0 between nodes', () => {
  const net = new TestNetwork()
  afterEach(async () => { await net.cleanup() })

  async function linked (count: number): Promise<PeerflowNode[]> {
    const nodes: PeerflowNode[] = []
    for (let i = 0; i < count; i++) nodes.push(await net.start({ embedder: 'hash' }))
    const [first, ...others] = nodes as [PeerflowNode, ...PeerflowNode[]]
    for (const node of others) await node.join(multiaddr(quicAddr(first)), never)
    for (const [i, node] of others.entries()) {
      for (const other of others.slice(i + 1)) await node.join(multiaddr(quicAddr(other)), never)
    }
    return nodes
  }

  it('refuses a corrupted copy from one peer and fetches the file from another', async () => {
    const [good, liar, fetcher] = await linked(3) as [PeerflowNode, PeerflowNode, PeerflowNode]
    const bytes = randomBytes(300_000)
    const source = await fileOf(bytes)
    const file = await good.blobs.importFile(source, 1e9)
    await liar.blobs.importFile(source, 1e9)
    const corrupted = Buffer.from(bytes)
    corrupted[123_456] = (corrupted[123_456] ?? 0) ^ 0xff
    await writeFile(liar.blobs.path(file.sha256), corrupted)

    await expect(fetcher.blobTransfer.fetch(file, [liar.peerId], never).then(() => 'fetched')).resolves.toBe('fetched')
    expect(sha256(await readFile(fetcher.blobs.path(file.sha256)))).toBe(file.sha256)

    // With only the liar to ask, nothing is kept, and the reason says why.
    const lonely = await net.start({ embedder: 'hash' })
    await lonely.join(multiaddr(quicAddr(liar)), never)
    await expect(lonely.blobTransfer.fetch(file, [liar.peerId], never)).rejects.toThrow(new RegExp(`could not fetch ${file.sha256} from any peer: .*hash to ${sha256(corrupted)}, not ${file.sha256}: refused`))
    expect(lonely.blobs.has(file.sha256)).toBe(false)
  })

  it('resumes a cut-off transfer from where it stopped (a ranged read)', async () => {
    const [holder, fetcher] = await linked(2) as [PeerflowNode, PeerflowNode]
    const bytes = randomBytes(500_000)
    const file = await holder.blobs.importFile(await fileOf(bytes), 1e9)
    // What a transfer cut off halfway leaves behind.
    await mkdir(join(fetcher.config.dataDir, 'blobs', 'partial'), { recursive: true })
    await writeFile(join(fetcher.config.dataDir, 'blobs', 'partial', file.sha256), bytes.subarray(0, 200_000))
    await fetcher.blobTransfer.fetch(file, [holder.peerId], never)
    // Appending the whole file to the partial copy would have failed the hash: only the rest was asked for.
    expect(await readFile(fetcher.blobs.path(file.sha256))).toEqual(bytes)
  })

  it('answers a peer that lacks the file with a clear reason', async () => {
    const [, fetcher] = await linked(2) as [PeerflowNode, PeerflowNode]
    const missing = { sha256: sha256(Buffer.from('nobody has this')), size: 15 }
    await expect(fetcher.blobTransfer.fetch(missing)).rejects.toThrow(/could not fetch .* from any peer: .*: does not have it/)
  })
})

describe('files that travel with tasks', () => {
  const net = new TestNetwork()
  afterEach(async () => { await net.cleanup() })

  it('a task with two attached files runs on a node that did not have them, and its result carries the file the agent wrote', async () => {
    const model = await serve()
    const nodes = await startTaskSwarm(net, {
      topology: 'hierarchical',
      size: 2,
      baseUrl: model.url,
      roles: [['planner'], ['reviewer']],
      configs: [{}, { agents: { roles: { reviewer: { tools: ['workspace__write'] } } } }]
    })
    const [submitter, worker] = nodes as [PeerflowNode, PeerflowNode]
    const dir = await tempDir()
    await writeFile(join(dir, 'diff.patch'), '--- a/src/a.ts\n+++ b/src/a.ts\n-export const b = 2\n+export const b = 3\n')
    await mkdir(join(dir, 'src'))
    await writeFile(join(dir, 'src', 'a.ts'), 'export const a = 1\nexport const b = 3\n')
    model.script(
      { kind: 'reply', toolUses: [{ name: 'workspace__read', input: { path: 'diff.patch' } }, { name: 'workspace__grep', input: { pattern: 'const b' } }] },
      { kind: 'reply', toolUses: [{ name: 'workspace__write', input: { path: 'review/notes.md', content: 'b went from 2 to 3: fine' } }] },
      { kind: 'reply', text: 'reviewed: LGTM' }
    )
    const api = ['--api', submitter.apiAddress]
    const submitted = await runCli(['task', 'submit', 'review the change', '--swarm', 'work', '--role', 'reviewer',
      '--file', join(dir, 'diff.patch'), '--file', join(dir, 'src', 'a.ts'), '--wait', '--json', ...api])
    expect(submitted.stderr).not.toMatch(/peerflow:/)
    expect(submitted.code).toBe(0)
    const report = JSON.parse(submitted.stdout) as { id: string, state: string, result: string, assignee: string, files: Array<{ name: string, sha256: string }> }
    expect(report).toMatchObject({ state: 'done', result: 'reviewed: LGTM', assignee: worker.peerId })
    expect(report.files.map((file) => file.name)).toEqual(['diff.patch', 'a.ts'])
    // The worker fetched both from the submitter, by hash.
    for (const file of report.files) expect(worker.blobs.has(file.sha256)).toBe(true)
    const results = (body: unknown): string[] => ((body as { messages: Array<{ content: unknown }> }).messages.at(-1)?.content as Array<{ content: string }>).map((block) => block.content)
    expect(results(model.requests[1]?.body)).toEqual([
      '--- a/src/a.ts\n+++ b/src/a.ts\n-export const b = 2\n+export const b = 3\n',
      'a.ts:2: export const b = 3\ndiff.patch:3: -export const b = 2\ndiff.patch:4: +export const b = 3'
    ])

    const shown = await runCli(['task', 'show', report.id, '--files', ...api])
    expect(shown.stdout).toMatch(/^attached\s+diff\.patch\s+70 B\s+[0-9a-f]{64}$/m)
    expect(shown.stdout).toMatch(/^produced\s+review\/notes\.md\s+24 B\s+[0-9a-f]{64}$/m)
    // The submitter never had the agent's file: fetching it pulls it from the worker.
    const out = join(dir, 'notes-copy.md')
    const fetched = await runCli(['task', 'fetch', report.id, 'review/notes.md', '--out', out, ...api])
    expect(fetched.stderr).toBe('')
    expect(await readFile(out, 'utf8')).toBe('b went from 2 to 3: fine')
    const unknown = await runCli(['task', 'fetch', report.id, 'nope.txt', ...api])
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringMatching(/has no file 'nope.txt' \(files: diff.patch, a.ts, review\/notes.md\)/) })
    await waitFor('workspace removed', async () => (await import('node:fs/promises')).readdir(join(worker.config.dataDir, 'workspaces')).then((entries) => entries.length === 0))
  })

  it('files one stage wrote go to the next stage on another node, and the last result names them', async () => {
    const model = await serve()
    const nodes = await startTaskSwarm(net, {
      topology: 'hierarchical',
      size: 2,
      baseUrl: model.url,
      roles: [['reviewer'], ['coder']],
      configs: [{}, { agents: { roles: { coder: { tools: ['workspace__write'] } } } }]
    })
    const [reviewerNode, coderNode] = nodes as [PeerflowNode, PeerflowNode]
    model.script(
      { kind: 'reply', toolUses: [{ name: 'workspace__write', input: { path: 'src/new.ts', content: 'export const c = 3\n' } }] },
      { kind: 'reply', text: 'wrote src/new.ts' },
      { kind: 'reply', toolUses: [{ name: 'workspace__read', input: { path: 'src/new.ts' } }] },
      { kind: 'reply', text: 'looks right' }
    )
    const submitted = await reviewerNode.tasks.submit({ swarm: 'work', prompt: 'add c, then review it', stages: ['coder', 'reviewer'] })
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report).toMatchObject({ state: 'done', result: 'looks right' })
    expect(report?.attemptLog.map((attempt) => attempt.worker)).toEqual([coderNode.peerId, reviewerNode.peerId])
    const read = (model.requests[3]?.body as { messages: Array<{ content: unknown }> }).messages.at(-1)?.content as Array<{ content: string }>
    expect(read.map((block) => block.content)).toEqual(['export const c = 3\n'])
    expect(report?.resultFiles).toEqual([expect.objectContaining({ name: 'src/new.ts', size: 19, worker: reviewerNode.peerId })])
  })

  it('submit --file refuses a missing path with exit 2 and submits nothing', async () => {
    const model = await serve()
    const [node] = await startTaskSwarm(net, { topology: 'hierarchical', size: 1, baseUrl: model.url })
    const result = await runCli(['task', 'submit', 'x', '--swarm', 'work', '--file', '/nonexistent/file.txt', '--api', node?.apiAddress ?? ''])
    expect(result).toMatchObject({ code: 2, stderr: 'peerflow: --file /nonexistent/file.txt: no such file\n' })
    expect(node?.tasks.list()).toEqual([])
  })
})
