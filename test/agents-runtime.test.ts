import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool, resolveProvider, runAgent, type AgentProgressEvent, type AgentTool, type ProviderOptions } from '../src/agents/index.ts'
import type { AnthropicServer } from './fixtures/anthropic-server.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { STAND_IN_LABEL, STAND_IN_MODEL_ID } from './fixtures/stand-in-model.ts'

const serve = modelServersPerTest()

/** Explicit options and an empty environment, so a developer's ANTHROPIC_* variables never leak in. */
function providerFor (server: AnthropicServer, options: ProviderOptions = {}): ReturnType<typeof resolveProvider> {
  return resolveProvider({ baseURL: server.url, apiKey: 'test-key', retryBaseDelayMs: 10, retryMaxDelayMs: 40, ...options }, {})
}

function memoryTools (store: Map<string, string>): AgentTool[] {
  return [
    defineTool({
      name: 'memory_write',
      description: 'Store a note in shared memory under a key',
      input: z.object({ key: z.string().min(1), value: z.string() }),
      async run ({ key, value }) {
        store.set(key, value)
        return { stored: key }
      }
    }),
    defineTool({
      name: 'memory_read',
      description: 'Read a note from shared memory',
      input: z.object({ key: z.string() }),
      async run ({ key }) {
        const value = store.get(key)
        if (value === undefined) throw new Error(`no note under '${key}'`)
        return value
      }
    })
  ]
}

describe('runAgent against the local Anthropic-compatible server', () => {
  it('streams a plain reply and reports turns, usage, model and progress', async () => {
    const server = await serve()
    const events: AgentProgressEvent[] = []
    const result = await runAgent({
      role: 'reviewer',
      prompt: 'Review the retry logic in the model client',
      context: 'pattern: retries must be bounded',
      provider: providerFor(server),
      onProgress: (event) => events.push(event)
    })
    expect(result).toMatchObject({
      status: 'done',
      role: 'reviewer',
      turns: 1,
      model: STAND_IN_MODEL_ID,
      requestedModel: 'claude-opus-5-5',
      costUsd: 0
    })
    expect(result.error).toBeUndefined()
    expect(result.text).toBe(`${STAND_IN_LABEL} You are the reviewer agent. You review changes for defects.: Review the retry logic in the model client`)
    expect(result.usage.inputTokens).toBeGreaterThan(0)
    expect(result.usage.outputTokens).toBeGreaterThan(0)
    expect(result.transcript.map((entry) => entry.role)).toEqual(['user', 'assistant'])

    const request = server.requests[0]
    expect(request.stream).toBe(true)
    expect(request.headers.authorization).toBe('Bearer test-key')
    expect(JSON.stringify((request.body as { system: unknown }).system)).toContain('pattern: retries must be bounded')

    expect(events[0]).toEqual({ type: 'turn_start', turn: 1, maxTurns: 8, model: 'claude-opus-5-5' })
    expect(events.filter((event) => event.type === 'text').map((event) => event.delta).join('')).toBe(result.text)
    expect(events.at(-1)).toMatchObject({ type: 'turn_end', turn: 1, stopReason: 'end_turn', usage: result.usage })
  })

  it('runs the tool-use loop with an injected in-memory tool', async () => {
    const server = await serve()
    const store = new Map<string, string>()
    const events: AgentProgressEvent[] = []
    const result = await runAgent({
      role: 'coder',
      prompt: 'Remember that the build uses vitest',
      tools: memoryTools(store),
      provider: providerFor(server),
      onProgress: (event) => events.push(event)
    })
    expect(result.status).toBe('done')
    expect(store.get('build-uses-vitest')).toBe('Remember that the build uses vitest')
    expect(result.turns).toBe(2)
    expect(result.text).toContain('memory_write returned {"stored":"build-uses-vitest"}')
    expect(result.transcript.map((entry) => entry.role)).toEqual(['user', 'assistant', 'tool', 'assistant'])
    expect(result.transcript[1]).toMatchObject({ role: 'assistant', stopReason: 'tool_use', toolCalls: ['memory_write'] })
    expect(events.find((event) => event.type === 'tool_call')).toMatchObject({ name: 'memory_write', isError: false, turn: 1 })

    const second = server.requests[1].body as { tools: Array<{ name: string, input_schema: object }>, messages: Array<{ role: string, content: unknown }> }
    expect(second.tools.map((tool) => tool.name)).toEqual(['memory_write', 'memory_read'])
    expect(second.tools[0].input_schema).toMatchObject({ type: 'object', required: ['key', 'value'] })
    expect(second.messages.map((message) => message.role)).toEqual(['user', 'assistant', 'user'])
    expect(second.messages[2].content).toEqual([expect.objectContaining({ type: 'tool_result', is_error: false, content: '{"stored":"build-uses-vitest"}' })])
  })

  it('returns tool failures and invalid tool input to the model as is_error results', async () => {
    const server = await serve()
    server.script({ kind: 'reply', toolUses: [{ name: 'memory_read', input: { key: 'missing' } }, { name: 'memory_write', input: { key: '' } }, { name: 'shell', input: {} }] })
    const result = await runAgent({ role: 'tester', prompt: 'look around', tools: memoryTools(new Map()), provider: providerFor(server) })
    expect(result.status).toBe('done')
    const results = (server.requests[1].body as { messages: Array<{ content: Array<{ is_error: boolean, content: string }> }> }).messages[2].content
    expect(results.map((block) => block.is_error)).toEqual([true, true, true])
    expect(results[0].content).toBe("no note under 'missing'")
    expect(results[1].content).toMatch(/^invalid input for memory_write:[\s\S]*key[\s\S]*value/)
    expect(results[2].content).toBe("unknown tool 'shell'; available: memory_write, memory_read")
    expect(result.text).toContain("memory_read failed: no note under 'missing'")
  })

  it('fails with the reason when the model keeps calling tools past max turns', async () => {
    const server = await serve()
    server.script({ kind: 'reply', toolUses: [{ name: 'memory_write', input: { key: 'loop', value: 'again' } }], times: Infinity })
    let toolRuns = 0
    const counting = defineTool({ name: 'memory_write', description: 'store', input: z.object({ key: z.string(), value: z.string() }), async run () { toolRuns++; return 'ok' } })
    const result = await runAgent({ role: 'coder', prompt: 'loop', tools: [counting], provider: providerFor(server), budget: { maxTurns: 3 } })
    expect(result).toMatchObject({ status: 'failed', error: 'budget exceeded: max turns 3', turns: 3 })
    expect(server.requests).toHaveLength(3)
    // The last turn's tool calls are not run: the model would never see their results.
    expect(toolRuns).toBe(2)
  })

  it('fails when the token budget is spent', async () => {
    const server = await serve()
    server.script({ kind: 'reply', toolUses: [{ name: 'memory_write', input: { key: 'k', value: 'v' } }], times: Infinity })
    const result = await runAgent({ role: 'coder', prompt: 'loop', tools: memoryTools(new Map()), provider: providerFor(server), budget: { maxTokens: 300 } })
    expect(result.status).toBe('failed')
    expect(result.error).toMatch(/^budget exceeded: max tokens 300 \(used \d+\)$/)
    expect(result.usage.inputTokens + result.usage.outputTokens).toBeGreaterThanOrEqual(300)
  })

  it('fails on wall time while waiting for a slow model', async () => {
    const server = await serve({ latencyMs: 5_000 })
    const started = performance.now()
    const result = await runAgent({ role: 'planner', prompt: 'plan', provider: providerFor(server), budget: { wallTimeMs: 300 } })
    expect(result).toMatchObject({ status: 'failed', error: 'budget exceeded: wall time 300 ms', turns: 1 })
    expect(performance.now() - started).toBeLessThan(2_000)
  })

  it('is cancelled through its AbortSignal, mid-request', async () => {
    const server = await serve({ latencyMs: 5_000 })
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    const result = await runAgent({ role: 'analyst', prompt: 'analyse', provider: providerFor(server), signal: controller.signal })
    expect(result).toMatchObject({ status: 'cancelled', error: 'cancelled by caller' })
    expect(result.durationMs).toBeLessThan(2_000)
  })

  it('is cancelled promptly even inside a tool that ignores the signal', async () => {
    const server = await serve()
    const controller = new AbortController()
    const stuck = defineTool({
      name: 'memory_write',
      description: 'store',
      input: z.object({ key: z.string(), value: z.string() }),
      run: () => {
        setTimeout(() => controller.abort(), 50)
        return new Promise<string>(() => {})
      }
    })
    const result = await runAgent({ role: 'coder', prompt: 'Remember the release date', tools: [stuck], provider: providerFor(server), signal: controller.signal })
    expect(result).toMatchObject({ status: 'cancelled', turns: 1 })
    expect(server.requests).toHaveLength(1)
  })

  it('does not start when already cancelled', async () => {
    const server = await serve()
    const result = await runAgent({ role: 'coder', prompt: 'x', provider: providerFor(server), signal: AbortSignal.abort() })
    expect(result).toMatchObject({ status: 'cancelled', turns: 0 })
    expect(server.requests).toHaveLength(0)
  })
})
