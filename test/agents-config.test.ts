import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { backoffDelayMs, retryAfterMs, sleep } from '../src/agents/backoff.ts'
import {
  createClient, defineTool, estimateCostUsd, getRole, modelChain, resolveProvider, ROLE_NAMES, ROLES, runToolCall, toApiTools
} from '../src/agents/index.ts'
import { startAnthropicServer } from './fixtures/anthropic-server.ts'

describe('provider configuration', () => {
  it('reads the environment when options are absent, and lets options win', () => {
    const env = { ANTHROPIC_API_KEY: 'env-key', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999/', PEERFLOW_MODEL_BALANCED: 'claude-sonnet-4-5' }
    const fromEnv = resolveProvider({}, env)
    expect(fromEnv).toMatchObject({ apiKey: 'env-key', baseURL: 'http://127.0.0.1:9999', models: { quality: 'claude-opus-5-5', balanced: 'claude-sonnet-4-5', cost: 'claude-haiku-5-5', speed: 'claude-haiku-5-5' } })
    expect(resolveProvider({ apiKey: 'option-key', models: { balanced: 'custom' } }, env)).toMatchObject({ apiKey: 'option-key', models: { balanced: 'custom' } })
    expect(resolveProvider({}, { ANTHROPIC_API_KEY: '  ' }).apiKey).toBeUndefined()
  })

  it('rejects unusable values', () => {
    expect(() => resolveProvider({ baseURL: 'not a url' }, {})).toThrow('invalid model provider base URL: not a url')
    expect(() => resolveProvider({ maxRetries: -1 }, {})).toThrow('invalid provider maxRetries: -1')
  })

  it('builds fallback chains from the tier links, without repeats or cycles', () => {
    const config = resolveProvider({ apiKey: 'k' }, {})
    expect(modelChain(config, 'quality')).toEqual(['claude-opus-5-5', 'claude-sonnet-5-5', 'claude-haiku-5-5'])
    expect(modelChain(config, 'balanced')).toEqual(['claude-sonnet-5-5', 'claude-haiku-5-5'])
    expect(modelChain(config, 'speed')).toEqual(['claude-haiku-5-5'])
    const cyclic = resolveProvider({ apiKey: 'k', fallback: { cost: 'quality', quality: 'cost' } }, {})
    expect(modelChain(cyclic, 'cost')).toEqual(['claude-haiku-5-5', 'claude-opus-5-5'])
  })

  it('sends a placeholder key to a compatible server configured without one', async () => {
    const server = await startAnthropicServer()
    try {
      const client = await createClient(resolveProvider({ baseURL: server.url }, {}))
      await client.messages.create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      expect(server.requests[0].headers.authorization).toBe('Bearer peerflow-no-key')
    } finally {
      await server.close()
    }
  })
})

describe('roles', () => {
  it('catalogues every role with a prompt naming it and a positive budget', () => {
    expect(Object.keys(ROLES)).toEqual([...ROLE_NAMES])
    for (const name of ROLE_NAMES) {
      const role = ROLES[name]
      expect(role.systemPrompt.startsWith(`You are the ${name} agent.`)).toBe(true)
      expect(Object.values(role.budget).every((limit) => limit > 0)).toBe(true)
    }
    expect(() => getRole('poet')).toThrow("unknown agent role 'poet'")
  })
})

describe('tools', () => {
  const echo = defineTool({
    name: 'echo',
    description: 'Echo a word',
    input: z.object({ word: z.string().describe('the word') }),
    async run ({ word }) { return word }
  })
  const ctx = { signal: new AbortController().signal, role: 'coder', turn: 1 }

  it('derives the input schema from zod and validates every call', async () => {
    expect(echo.inputSchema).toEqual({ type: 'object', properties: { word: { type: 'string', description: 'the word' } }, required: ['word'], additionalProperties: false })
    expect(await runToolCall([echo], { id: 't1', name: 'echo', input: { word: 'hi' } }, ctx)).toMatchObject({ isError: false, text: 'hi' })
    const bad = await runToolCall([echo], { id: 't2', name: 'echo', input: { word: 3 } }, ctx)
    expect(bad.isError).toBe(true)
    expect(bad.result).toMatchObject({ type: 'tool_result', tool_use_id: 't2', is_error: true })
    expect(bad.text).toMatch(/^invalid input for echo:/)
  })

  it('refuses tool names the API would reject, and duplicates', () => {
    expect(() => defineTool({ name: 'has space', description: '', input: z.object({}), async run () { return '' } })).toThrow("invalid tool name 'has space'")
    expect(() => toApiTools([echo, echo])).toThrow("duplicate tool name 'echo'")
  })
})

describe('pricing and backoff', () => {
  it('estimates cost from the price table, 0 for unknown models', () => {
    expect(estimateCostUsd('claude-sonnet-5-5', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(18)
    expect(estimateCostUsd('claude-opus-4-5-20251101', { inputTokens: 1_000_000, outputTokens: 0 })).toBe(5)
    expect(estimateCostUsd('local-stand-in', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(0)
  })

  it('backs off exponentially with jitter in the upper half, capped', () => {
    expect(backoffDelayMs(1, 100, 1000, () => 0)).toBe(50)
    expect(backoffDelayMs(3, 100, 1000, () => 1)).toBe(400)
    expect(backoffDelayMs(10, 100, 1000, () => 1)).toBe(1000)
  })

  it('reads retry-after-ms, retry-after seconds and HTTP dates', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250' }))).toBe(250)
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000)
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 7_000)).toBe(3000)
    expect(retryAfterMs(new Headers({ 'retry-after': '3600' }))).toBe(60_000)
    expect(retryAfterMs(new Headers())).toBeUndefined()
  })

  it('stops sleeping when aborted', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('stop')), 10)
    await expect(sleep(10_000, controller.signal)).rejects.toThrow('stop')
  })
})
