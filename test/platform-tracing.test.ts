import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PeerflowClient } from '../node/cli/peerflow-client.ts'
import { resolveConfig } from '../node/config/config.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { nodeProcessesPerTest } from './helpers/node-processes.ts'
import { TestNetwork, waitFor } from './helpers/nodes.ts'
import { leaderOf, startTaskSwarm, waitForFinished } from './helpers/task-swarm.ts'

const serve = modelServersPerTest()
const net = new TestNetwork()
const processes = nodeProcessesPerTest()
const exporter = new InMemorySpanExporter()
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })

beforeAll(() => {
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN']) Reflect.deleteProperty(process.env, name)
  // What an embedding program (or a node with otlpEndpoint) does: register a provider for the process.
  trace.setGlobalTracerProvider(provider)
})

afterEach(async () => { await net.cleanup() })

afterAll(async () => {
  await provider.shutdown()
  trace.disable()
})

function named (spans: ReadableSpan[], prefix: string): ReadableSpan[] {
  return spans.filter((span) => span.name.startsWith(prefix))
}

describe('OpenTelemetry traces', () => {
  it('a task gives GenAI spans for the agent run, each model call and each tool call, with tokens, model, cost, task id and swarm; plus scheduling and catch-up spans', async () => {
    const server = await serve()
    server.script({ kind: 'reply', toolUses: [{ name: 'memory_write', input: { key: 'finding', value: 'the cache key omits the tenant' } }] })
    exporter.reset()
    const nodes = await startTaskSwarm(net, { topology: 'hierarchical', size: 2, baseUrl: server.url })
    const submitted = await (nodes[0] as PeerflowNode).tasks.submit({ swarm: 'work', prompt: 'audit the cache layer', role: 'reviewer' })
    const [report] = await waitForFinished(nodes, [submitted.id])
    expect(report?.state).toBe('done')
    const spans = exporter.getFinishedSpans()

    const [agent, ...moreAgents] = named(spans, 'invoke_agent ')
    expect(moreAgents).toHaveLength(0)
    expect(agent?.name).toBe('invoke_agent reviewer')
    expect(agent?.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.agent.name': 'reviewer',
      'peerflow.task.id': submitted.id,
      'peerflow.swarm': 'work'
    })
    expect(agent?.attributes['gen_ai.usage.input_tokens']).toBe(report?.usage.inputTokens)
    expect(agent?.attributes['gen_ai.usage.output_tokens']).toBe(report?.usage.outputTokens)
    expect(agent?.attributes['gen_ai.response.model']).toBe(report?.model)
    expect(typeof agent?.attributes['peerflow.cost_usd']).toBe('number')

    const chats = named(spans, 'chat ')
    expect(chats).toHaveLength(2)
    for (const chat of chats) {
      expect(chat.kind).toBe(SpanKind.CLIENT)
      expect(chat.parentSpanContext?.spanId).toBe(agent?.spanContext().spanId)
      expect(chat.spanContext().traceId).toBe(agent?.spanContext().traceId)
      expect(chat.attributes['gen_ai.operation.name']).toBe('chat')
      expect(chat.attributes['gen_ai.request.model']).toBeTypeOf('string')
      expect(chat.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0)
      expect(chat.attributes['peerflow.task.id']).toBe(submitted.id)
    }
    expect(chats.map((chat) => chat.attributes['gen_ai.response.finish_reasons'])).toEqual([['tool_use'], ['end_turn']])
    const chatInputTokens = chats.reduce((sum, chat) => sum + (chat.attributes['gen_ai.usage.input_tokens'] as number), 0)
    expect(chatInputTokens).toBe(report?.usage.inputTokens)

    const [tool] = named(spans, 'execute_tool ')
    expect(tool?.name).toBe('execute_tool memory_write')
    expect(tool?.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'memory_write', 'peerflow.task.id': submitted.id })
    expect(tool?.parentSpanContext?.spanId).toBe(agent?.spanContext().spanId)
    expect(tool?.status.code).not.toBe(SpanStatusCode.ERROR)

    const schedules = named(spans, 'schedule_task').filter((span) => span.attributes['peerflow.task.id'] === submitted.id)
    expect(schedules.length).toBeGreaterThanOrEqual(1)
    expect(schedules[0]?.attributes).toMatchObject({ 'peerflow.swarm': 'work', 'peerflow.task.worker': report?.attemptLog[0]?.worker, 'peerflow.task.term': leaderOf(nodes).swarms.member('work')?.term })

    const catchUps = named(spans, 'catch_up')
    expect(catchUps.length).toBeGreaterThanOrEqual(1)
    expect(catchUps.some((span) => (span.attributes['peerflow.sync.bytes_received'] as number) + (span.attributes['peerflow.sync.bytes_sent'] as number) > 0)).toBe(true)
  }, 60_000)

  it('is off by default; otlpEndpoint turns it on and must be an http(s) URL', async () => {
    const defaults = await resolveConfig({ flags: { dataDir: await net.dataDir() }, env: {} })
    expect(defaults.otlpEndpoint).toBeUndefined()
    const configured = await resolveConfig({ flags: { dataDir: await net.dataDir() }, env: { PEERFLOW_OTLP_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' } })
    expect(configured.otlpEndpoint).toBe('http://127.0.0.1:4318/v1/traces')
    await expect(resolveConfig({ flags: { dataDir: await net.dataDir() }, env: { PEERFLOW_OTLP_ENDPOINT: 'ftp://collector/traces' } })).rejects.toThrow(/otlpEndpoint/)
  })

  it('a node process with otlpEndpoint exports its spans over OTLP/HTTP, the last ones when it stops', async () => {
    const received: Array<{ path: string, body: string }> = []
    const collector = createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        received.push({ path: request.url ?? '', body: Buffer.concat(chunks).toString('utf8') })
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      })
    })
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`
      const dir = await processes.dataDir()
      await writeFile(join(dir, 'peerflow.json'), JSON.stringify({ otlpEndpoint: endpoint, embedder: 'hash' }))
      const node = await processes.start(dir)
      const peer = await processes.start(await processes.dataDir(), ['--embedder', 'hash'])
      await new PeerflowClient(peer.api).peers.join(node.addresses.find((addr) => addr.includes('/quic-v1/')) as string)
      await new PeerflowClient(node.api).memory.put('shared-knowledge', 'traced', 1)
      await waitFor('the peer has the write (catch-up or gossip ran)', async () => (await new PeerflowClient(peer.api).memory.get('shared-knowledge', 'traced')) !== undefined, 10_000, 100)
      expect(await node.stop('SIGTERM')).toBe(0)
      expect(received.length).toBeGreaterThan(0)
      expect(received.every((request) => request.path === '/v1/traces')).toBe(true)
      const bodies = received.map((request) => request.body).join('')
      expect(bodies).toContain('catch_up')
      expect(bodies).toContain(node.peerId)
    } finally {
      await new Promise((resolve) => collector.close(resolve))
    }
  }, 60_000)
})
