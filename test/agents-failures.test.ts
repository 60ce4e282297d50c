import { describe, expect, it } from 'vitest'
import { assertConfigured, resolveProvider, runAgent, type AgentProgressEvent, type ProviderOptions } from '../src/agents/index.ts'
import { startAnthropicServer, type AnthropicServer } from './fixtures/anthropic-server.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'

const serve = modelServersPerTest()

/** Explicit options and an empty environment, so a developer's ANTHROPIC_* variables never leak in. */
function providerAt (url: string, options: ProviderOptions = {}): ReturnType<typeof resolveProvider> {
  return resolveProvider({ baseURL: url, apiKey: 'test-key', maxRetries: 2, retryBaseDelayMs: 10, retryMaxDelayMs: 40, ...options }, {})
}

function recorder (): { events: AgentProgressEvent[], onProgress: (event: AgentProgressEvent) => void } {
  const events: AgentProgressEvent[] = []
  return { events, onProgress: (event) => events.push(event) }
}

describe('runAgent when the model endpoint misbehaves', () => {
  it('retries a 429 after the delay the server asks for, then succeeds', async () => {
    const server = await serve()
    server.script({ kind: 'rate_limit', retryAfterSeconds: 1 })
    const { events, onProgress } = recorder()
    const result = await runAgent({ role: 'coder', prompt: 'hello', provider: providerAt(server.url), onProgress })
    expect(result.status).toBe('done')
    expect(events.filter((event) => event.type === 'retry')).toEqual([
      { type: 'retry', turn: 1, model: 'claude-opus-5-5', attempt: 1, maxRetries: 2, delayMs: 1000, reason: 'rate_limit (429)' }
    ])
    expect(server.requests.map((request) => request.status)).toEqual([429, 200])
    const [first, second] = server.requests
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(950)
  })

  it('falls back to the next model in the chain when one stays overloaded', async () => {
    const server = await serve()
    server.script({ kind: 'overloaded', forModel: 'claude-opus-5-5', times: Infinity })
    const { events, onProgress } = recorder()
    const result = await runAgent({ role: 'coder', prompt: 'hello', provider: providerAt(server.url, { maxRetries: 1 }), onProgress })
    expect(result).toMatchObject({ status: 'done', requestedModel: 'claude-sonnet-5-5', turns: 1 })
    expect(server.requests.map((request) => [request.model, request.status])).toEqual([
      ['claude-opus-5-5', 529], ['claude-opus-5-5', 529], ['claude-sonnet-5-5', 200]
    ])
    expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(['retry', 'fallback']))
    expect(events.find((event) => event.type === 'fallback')).toEqual({ type: 'fallback', turn: 1, from: 'claude-opus-5-5', to: 'claude-sonnet-5-5', reason: 'overloaded (529)' })
  })

  it('falls back at once when the endpoint does not know the model', async () => {
    const server = await serve()
    server.script({ kind: 'not_found', forModel: 'claude-sonnet-5-5', times: Infinity })
    const result = await runAgent({ role: 'tester', prompt: 'hello', provider: providerAt(server.url) })
    expect(result).toMatchObject({ status: 'done', requestedModel: 'claude-haiku-5-5' })
    expect(server.requests.map((request) => request.model)).toEqual(['claude-sonnet-5-5', 'claude-haiku-5-5'])
  })

  it('names every model tried when the whole chain is overloaded', async () => {
    const server = await serve()
    server.script({ kind: 'overloaded', times: Infinity })
    const result = await runAgent({ role: 'coder', prompt: 'hello', provider: providerAt(server.url, { maxRetries: 0 }) })
    expect(result.status).toBe('failed')
    expect(result.error).toBe(`model overloaded (529) at ${server.url} after 3 attempts; tried claude-opus-5-5, claude-sonnet-5-5, claude-haiku-5-5`)
  })

  it('fails with a clear error when 500s persist through the retries', async () => {
    const server = await serve()
    server.script({ kind: 'server_error', times: Infinity })
    const result = await runAgent({ role: 'coder', prompt: 'hello', provider: providerAt(server.url) })
    expect(result).toMatchObject({ status: 'failed', turns: 1, error: `model endpoint error (500) at ${server.url} after 3 attempts: Internal server error` })
    expect(server.requests.map((request) => request.model)).toEqual(['claude-opus-5-5', 'claude-opus-5-5', 'claude-opus-5-5'])
  })

  it('fails at once with an authentication error for a wrong key', async () => {
    const server = await serve({ apiKey: 'the-right-key' })
    const result = await runAgent({ role: 'coder', prompt: 'hello', provider: providerAt(server.url, { apiKey: 'a-wrong-key' }) })
    expect(result).toMatchObject({ status: 'failed', error: `authentication failed (401) at ${server.url}: check ANTHROPIC_API_KEY` })
    expect(server.requests).toHaveLength(1)
  })

  it('fails quickly with a clear error when nothing listens at the endpoint', async () => {
    const closed = await startAnthropicServer()
    await closed.close()
    const started = Date.now()
    const result = await runAgent({ role: 'coder', prompt: 'hello', provider: providerAt(closed.url) })
    expect(result.status).toBe('failed')
    expect(result.error).toMatch(new RegExp(`^model endpoint unreachable: ${closed.url} \\(ECONNREFUSED; 3 attempts\\)$`))
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('reports a missing provider configuration clearly, without sending anything', async () => {
    const unconfigured = resolveProvider({}, {})
    const message = 'no model provider configured: set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for a compatible server)'
    expect(() => { assertConfigured(unconfigured) }).toThrow(message)
    const result = await runAgent({ role: 'coder', prompt: 'hello', provider: unconfigured })
    expect(result).toMatchObject({ status: 'failed', error: message, turns: 0 })
  })
})
