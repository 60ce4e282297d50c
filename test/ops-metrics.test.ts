import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { defaults } from '../node/config/config.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { taskLayerOf } from '../node/api/dashboard/overview.ts'
import { startAnthropicServer, type AnthropicServer } from './fixtures/anthropic-server.ts'
import { gossipMeshReady } from './helpers/memory.ts'
import { quicAddr, TestNetwork, waitFor } from './helpers/nodes.ts'

const net = new TestNetwork()
let model: AnthropicServer | undefined
const never = new AbortController().signal

afterEach(async () => {
  await net.cleanup()
  await model?.close()
  model = undefined
})

/** GET /metrics over the node's real control API, as Prometheus scrapes it. */
async function scrape (node: PeerflowNode): Promise<string> {
  const response = await fetch(`http://${node.apiAddress}/metrics`)
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
  return response.text()
}

/** The task layer is read through the control API: this suite does not depend on its types. */
async function api<T> (node: PeerflowNode, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`http://${node.apiAddress}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  const payload = await response.json() as T & { error?: string }
  if (!response.ok) throw new Error(`${method} ${path}: ${payload.error ?? response.status}`)
  return payload
}

/** The value of one sample, e.g. sample(text, 'peerflow_peers', { transport: 'quic' }); 0 when absent. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels)
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const present = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]))
    if (wanted.every(([key, value]) => present[key] === value)) return Number(match[3])
  }
  return 0
}

describe('GET /metrics', () => {
  it('serves peerflow_ families whose values follow peers, memory writes, gossip and tasks', async () => {
    model = await startAnthropicServer()
    const a = await net.start({ embedder: 'hash', agents: { ...defaults('.').agents, baseUrl: model.url } })
    const before = await scrape(a)
    for (const family of ['peerflow_peers', 'peerflow_memory_entries', 'peerflow_gossip_messages_total', 'peerflow_uptime_seconds']) {
      expect(before).toContain(`# TYPE ${family} `)
    }
    expect(sample(before, 'peerflow_peers', { transport: 'quic' })).toBe(0)
    expect(sample(before, 'peerflow_memory_entries', { namespace: 'shared-knowledge' })).toBe(0)

    const b = await net.start({ embedder: 'hash', agents: a.config.agents })
    await b.join(multiaddr(quicAddr(a)), never)
    await waitFor('A sees B admitted', () => a.admission.isAdmitted(b.peerId))
    expect(sample(await scrape(a), 'peerflow_peers', { transport: 'quic' })).toBe(1)

    // Writes made before B knows A subscribes reach A only by catch-up, which the gossip counters do not see.
    await waitFor('A and B subscribed to shared-knowledge', () => gossipMeshReady([a, b], 'shared-knowledge'))
    const gossipIn = sample(await scrape(a), 'peerflow_gossip_messages_total', { direction: 'in' })
    for (let i = 0; i < 5; i++) await b.memory.put('shared-knowledge', `metrics-${i}`, { i }, { author: b.peerId })
    await waitFor('five entries replicated to A', () => a.memory.list('shared-knowledge').length === 5)
    const afterWrites = await scrape(a)
    expect(sample(afterWrites, 'peerflow_memory_entries', { namespace: 'shared-knowledge' })).toBe(5)
    expect(sample(afterWrites, 'peerflow_gossip_messages_total', { direction: 'in' })).toBeGreaterThan(gossipIn)
    expect(sample(afterWrites, 'peerflow_memory_bytes', { namespace: 'shared-knowledge' })).toBeGreaterThan(0)
    expect(sample(afterWrites, 'peerflow_replication_received_bytes_total', { namespace: 'shared-knowledge', path: 'gossip' })).toBeGreaterThan(0)

    if (taskLayerOf(a) !== undefined) {
      // Task records live in the swarm's replicated namespace: running one moves its gauges.
      const taskEntries = sample(afterWrites, 'peerflow_memory_entries', { namespace: 'swarm.metrics' })
      await a.swarms.init('metrics', 'hierarchical', 8, [])
      await waitFor('A leads swarm metrics', () => a.swarms.member('metrics')?.role === 'leader')
      const { id } = await api<{ id: string }>(a, 'POST', '/tasks', { swarm: 'metrics', prompt: 'count the peers', role: 'coder' })
      await waitFor('the task is done', async () => (await api<{ state: string }>(a, 'GET', `/tasks/${id}`)).state === 'done', 30_000, 100)
      expect(sample(await scrape(a), 'peerflow_memory_entries', { namespace: 'swarm.metrics' })).toBeGreaterThan(taskEntries)
      expect(sample(await scrape(a), 'peerflow_election_is_leader', { swarm: 'metrics' })).toBe(1)
    }
  })
})
