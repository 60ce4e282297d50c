import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { swarmNamespace } from '../crdt/index.ts'
import { ApiClient, ApiError } from '../node/cli/client.ts'
import type { ReplicationStatus } from '../node/core/peerflow-node.ts'
import { SYNC_PROTOCOL } from '../protocols/ids.ts'
import { decodeSyncMessage, encodeSyncMessage, SYNC_LIMITS, type SyncMessage } from '../protocols/sync.ts'
import type { TaskReport } from '../src/swarm/tasks/task-report.ts'
import { startAnthropicServer, type AnthropicServer } from './fixtures/anthropic-server.ts'
import { TestHosts } from './helpers/hosts.ts'
import { nodeProcessesPerTest } from './helpers/node-processes.ts'
import { startProcessSwarm, type SwarmProcess } from './helpers/process-swarm.ts'
import { waitFor } from './helpers/nodes.ts'

/**
 * Swarm-scoped replication across node processes: a swarm's namespace reaches its members and
 * nobody else, measured in bytes each node received and stored, until a node joins the swarm.
 */

const processes = nodeProcessesPerTest()
const hosts = new TestHosts()
let server: AnthropicServer | undefined

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
})

afterEach(async () => {
  await hosts.cleanup()
  await server?.close()
  server = undefined
})

const SWARM = 'work'
const SCOPED = swarmNamespace(SWARM)
const ENTRIES = 40
const VALUE_CHARS = 6_000
/** What the members write into the swarm's namespace: incompressible text, 240 kB in all. */
const SCOPED_BYTES = ENTRIES * VALUE_CHARS

interface Entries { entries: Array<{ key: string }> }

/** The swarm's namespace also holds its task records: count the test's own entries. */
const notes = (reply: Entries): number => reply.entries.filter((entry) => entry.key.startsWith('note-')).length

async function replication (client: ApiClient): Promise<ReplicationStatus> {
  return (await client.request<{ replication: ReplicationStatus }>('GET', '/status')).replication
}

function row (status: ReplicationStatus, namespace: string): ReplicationStatus['namespaces'][number] {
  return status.namespaces.find((candidate) => candidate.namespace === namespace) ?? { namespace, gossipBytes: 0, syncBytes: 0, storedBytes: 0 }
}

async function refusedWith (request: Promise<unknown>): Promise<ApiError> {
  const error = await request.then(() => undefined, (err: unknown) => err)
  expect(error).toBeInstanceOf(ApiError)
  return error as ApiError
}

/** A node process outside the swarm, connected to `peer`. */
async function startOutsider (peer: SwarmProcess): Promise<ApiClient> {
  const dir = await processes.dataDir()
  await writeFile(join(dir, 'peerflow.json'), JSON.stringify({ embedder: 'hash', agents: { baseUrl: server?.url, heartbeatMs: 100, workerTimeoutMs: 1_500 } }))
  const node = await processes.start(dir)
  const client = new ApiClient(node.api)
  await client.request('POST', '/join', { body: { multiaddr: peer.addresses.find((addr) => addr.includes('/quic-v1/')) } })
  return client
}

describe('swarm-scoped replication across node processes', () => {
  it('a non-member receives and stores none of a swarm\'s namespace, gets shared-knowledge, and catches up when it joins', async () => {
    server = await startAnthropicServer()
    const [a, b] = await startProcessSwarm(processes, { size: 2, baseUrl: server.url, name: SWARM }) as [SwarmProcess, SwarmProcess]
    const outsider = await startOutsider(a)
    await waitFor('the outsider knows the swarm', async () =>
      (await outsider.request<{ swarms: unknown[] }>('GET', '/swarms')).swarms.length > 0, 15_000, 100)

    const task = await a.client.request<TaskReport>('POST', '/tasks', { body: { swarm: SWARM, prompt: 'summarise the release notes', role: 'coder' } })
    for (let i = 0; i < ENTRIES; i++) {
      await a.client.request('POST', `/memory/${SCOPED}`, { body: { key: `note-${i}`, value: randomBytes(VALUE_CHARS / 2).toString('hex') } })
    }
    await a.client.request('POST', '/memory/shared-knowledge', { body: { key: 'everyone', value: 'network-wide' } })

    await waitFor('the other member holds every note', async () => notes(await b.client.request<Entries>('GET', `/memory/${SCOPED}`)) === ENTRIES, 20_000, 100)
    await waitFor('the task done and seen by the other member', async () =>
      (await b.client.request<TaskReport>('GET', `/tasks/${task.id}`).catch(() => undefined))?.state === 'done', 30_000, 200)
    await waitFor('shared-knowledge reached the outsider', async () =>
      (await outsider.request<Entries>('GET', '/memory/shared-knowledge').catch(() => ({ entries: [] }))).entries.some((entry) => entry.key === 'everyone'), 20_000, 100)
    // Past an anti-entropy round (15 s) after the writes: catch-up had its chance to leak too.
    await new Promise((resolve) => setTimeout(resolve, 16_000))

    const member = await replication(b.client)
    const outside = await replication(outsider)
    expect(member.swarms).toEqual([SWARM])
    expect(outside.swarms).toEqual([])
    expect(row(member, SCOPED).gossipBytes + row(member, SCOPED).syncBytes).toBeGreaterThan(SCOPED_BYTES)
    expect(row(member, SCOPED).storedBytes).toBeGreaterThan(SCOPED_BYTES)
    expect(row(outside, SCOPED)).toEqual({ namespace: SCOPED, gossipBytes: 0, syncBytes: 0, storedBytes: 0 })
    expect(row(outside, 'shared-knowledge').gossipBytes + row(outside, 'shared-knowledge').syncBytes).toBeGreaterThan(0)
    // Everything the outsider received, every namespace and both paths together, is a small
    // fraction of the swarm's data: a catch-up that carried it would show here.
    expect(outside.bytesReceived.updates).toBeLessThan(SCOPED_BYTES / 8)
    expect(outside.bytesReceived.sync).toBeLessThan(SCOPED_BYTES / 8)

    // The outsider's task commands say why, rather than answer nothing.
    const listing = await refusedWith(outsider.request('GET', `/tasks?swarm=${SWARM}`))
    expect(listing.kind).toBe('forbidden')
    expect(listing.message).toContain(`swarm '${SWARM}'`)
    const submit = await refusedWith(outsider.request('POST', '/tasks', { body: { swarm: SWARM, prompt: 'x', role: 'coder' } }))
    expect(submit.kind).toBe('forbidden')
    expect(submit.message).toContain('not a member')
    expect((await refusedWith(outsider.request('GET', `/tasks/${task.id}`))).kind).toBe('not-found')
    expect((await refusedWith(outsider.request('GET', `/memory/${SCOPED}`))).kind).toBe('forbidden')

    // Joining brings the swarm's namespace over by catch-up.
    await waitFor('the outsider joined', async () => {
      try {
        await outsider.request('POST', `/swarms/${SWARM}/join`, { body: { roles: [] } })
        return true
      } catch {
        return false
      }
    }, 15_000, 100)
    await waitFor('the new member holds every note of the swarm', async () =>
      notes(await outsider.request<Entries>('GET', `/memory/${SCOPED}`).catch(() => ({ entries: [] }))) === ENTRIES, 20_000, 100)
    expect((await outsider.request<TaskReport>('GET', `/tasks/${task.id}`)).state).toBe('done')
    const joined = await replication(outsider)
    expect(joined.swarms).toEqual([SWARM])
    expect(row(joined, SCOPED).syncBytes).toBeGreaterThan(SCOPED_BYTES)
    expect(joined.refusals.filter((refusal) => refusal.peer === a.peerId)).toEqual([])
  }, 120_000)

  it('a peer that asks for a swarm\'s namespace without being a member is refused with a reason, and sent the rest', async () => {
    server = await startAnthropicServer()
    // One member is enough: the asker below is a bare libp2p host that is in no swarm.
    const [a] = await startProcessSwarm(processes, { size: 1, baseUrl: server.url, name: SWARM }) as [SwarmProcess]
    await a.client.request('POST', `/memory/${SCOPED}`, { body: { key: 'secret-plan', value: 'members only' } })
    await a.client.request('POST', '/memory/shared-knowledge', { body: { key: 'everyone', value: 'network-wide' } })

    const raw = await hosts.plain()
    await raw.dial(multiaddr(a.addresses.find((addr) => addr.includes('/quic-v1/')) as string))
    const stream = await raw.dialProtocol(peerIdFromString(a.peerId), SYNC_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: SYNC_LIMITS.maxFrameBytes })
    const empty = Uint8Array.of(0)
    await lp.write(encodeSyncMessage({ type: 'hello', stateVectors: new Map([[SCOPED, empty], ['shared-knowledge', empty]]) }))
    const received: SyncMessage[] = []
    for (;;) {
      const message = decodeSyncMessage((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
      received.push(message)
      if (message.type === 'done') break
    }
    await lp.write(encodeSyncMessage({ type: 'done' }))
    await stream.close()

    const refusals = received.filter((message) => message.type === 'refused')
    expect(refusals).toEqual([{ type: 'refused', namespace: SCOPED, reason: expect.stringContaining(`only to members of swarm '${SWARM}'`) as string }])
    const updates = received.filter((message) => message.type === 'update')
    expect(updates.some((message) => message.namespace === 'shared-knowledge')).toBe(true)
    expect(updates.filter((message) => message.namespace === SCOPED)).toEqual([])
    expect(updates.filter((message) => message.namespace.startsWith('swarm.'))).toEqual([])
  }, 60_000)
})
