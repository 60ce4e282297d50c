import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import Anthropic, { AuthenticationError, BadRequestError, InternalServerError, OverloadedError, RateLimitError } from '@anthropic-ai/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { startAnthropicServer, type AnthropicServer, type AnthropicServerOptions } from './fixtures/anthropic-server.ts'
import { STAND_IN_LABEL, STAND_IN_MODEL_ID } from './fixtures/stand-in-model.ts'

const servers: AnthropicServer[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (server) => { await server.close() }))
})

async function serve (options: AnthropicServerOptions = {}): Promise<{ server: AnthropicServer, client: Anthropic }> {
  const server = await startAnthropicServer(options)
  servers.push(server)
  return { server, client: new Anthropic({ apiKey: 'test-key', baseURL: server.url, maxRetries: 0 }) }
}

const memoryWrite: Anthropic.Tool = {
  name: 'memory_write',
  description: 'Store a note in shared memory',
  input_schema: { type: 'object', properties: { key: { type: 'string' }, value: { type: 'string' } }, required: ['key', 'value'] }
}

describe('the local Anthropic-compatible server, driven by the real SDK', () => {
  it('answers a plain request with a labelled stand-in reply and usage', async () => {
    const { server, client } = await serve()
    const message = await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 256,
      system: 'You are the reviewer agent.\nBe strict.',
      messages: [{ role: 'user', content: 'Check   the retry logic' }]
    })
    expect(message.model).toBe(STAND_IN_MODEL_ID)
    expect(message.stop_reason).toBe('end_turn')
    expect(message.content).toEqual([{ type: 'text', text: `${STAND_IN_LABEL} You are the reviewer agent.: Check the retry logic` }])
    expect(message.usage.input_tokens).toBeGreaterThan(0)
    expect(message.usage.output_tokens).toBeGreaterThan(0)
    expect(server.requests).toHaveLength(1)
    expect(server.requests[0]).toMatchObject({ method: 'POST', path: '/v1/messages', model: 'claude-sonnet-5-5', stream: false, status: 200 })
  })

  it('streams the real event sequence, which messages.stream() assembles into the final message', async () => {
    const { client } = await serve({ streamEventDelayMs: 2 })
    const stream = client.messages.stream({ model: 'claude-haiku-5-5', max_tokens: 256, messages: [{ role: 'user', content: 'Describe a long enough prompt so that the reply arrives in several deltas' }] })
    const events: string[] = []
    const deltas: string[] = []
    stream.on('streamEvent', (event) => events.push(event.type))
    stream.on('text', (delta) => deltas.push(delta))
    const message = await stream.finalMessage()
    expect(events[0]).toBe('message_start')
    expect(events.slice(-2)).toEqual(['message_delta', 'message_stop'])
    expect(events).toContain('content_block_start')
    expect(events).toContain('content_block_stop')
    expect(deltas.length).toBeGreaterThan(1)
    expect(deltas.join('')).toBe((message.content[0] as Anthropic.TextBlock).text)
    expect(message.stop_reason).toBe('end_turn')
    expect(message.usage.output_tokens).toBeGreaterThan(1)
  })

  it('calls an offered memory tool once, streamed as input_json deltas, then answers from the tool_result', async () => {
    const { server, client } = await serve()
    const first = await client.messages.stream({ model: 'm', max_tokens: 256, tools: [memoryWrite], messages: [{ role: 'user', content: 'Please remember that the build uses vitest' }] }).finalMessage()
    expect(first.stop_reason).toBe('tool_use')
    const call = first.content.find((block) => block.type === 'tool_use')
    expect(call).toMatchObject({ name: 'memory_write', input: { key: 'build-uses-vitest', value: 'Please remember that the build uses vitest' } })
    const id = (call as Anthropic.ToolUseBlock).id

    const second = await client.messages.create({
      model: 'm',
      max_tokens: 256,
      tools: [memoryWrite],
      messages: [
        { role: 'user', content: 'Please remember that the build uses vitest' },
        { role: 'assistant', content: first.content.map((block) => block.type === 'tool_use' ? { type: 'tool_use', id: block.id, name: block.name, input: block.input } : { type: 'text', text: (block as Anthropic.TextBlock).text }) },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: 'stored under build-uses-vitest' }] }
      ]
    })
    expect(second.stop_reason).toBe('end_turn')
    expect((second.content[0] as Anthropic.TextBlock).text).toContain('memory_write returned stored under build-uses-vitest')
    expect(server.requests.map((request) => request.status)).toEqual([200, 200])
  })

  it('rejects a tool_use left without a tool_result, as the real API does', async () => {
    const { client } = await serve()
    await expect(client.messages.create({
      model: 'm',
      max_tokens: 64,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'memory_write', input: {} }] },
        { role: 'user', content: 'and?' }
      ]
    })).rejects.toBeInstanceOf(BadRequestError)
  })

  it('rejects a wrong key with 401 authentication_error in the API error shape', async () => {
    const { server } = await serve({ apiKey: 'right-key' })
    const client = new Anthropic({ apiKey: 'wrong-key', baseURL: server.url, maxRetries: 0 })
    const error = await client.messages.create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(AuthenticationError)
    expect(error).toMatchObject({ status: 401, type: 'authentication_error', apiMessage: 'invalid x-api-key' })
    const good = new Anthropic({ apiKey: 'right-key', baseURL: server.url, maxRetries: 0 })
    await expect(good.messages.create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })).resolves.toMatchObject({ type: 'message' })
  })

  it('plays scripted failures in order, per model, then returns to the stand-in', async () => {
    const { server, client } = await serve()
    server.script(
      { kind: 'rate_limit', retryAfterSeconds: 3 },
      { kind: 'overloaded', forModel: 'big', times: 2 },
      { kind: 'server_error' },
      { kind: 'reply', text: 'scripted answer' }
    )
    const ask = (model: string): Promise<unknown> => client.messages.stream({ model, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }).finalMessage().catch((err: unknown) => err)
    const limited = await ask('small')
    expect(limited).toBeInstanceOf(RateLimitError)
    expect((limited as RateLimitError).headers.get('retry-after')).toBe('3')
    expect(await ask('big')).toBeInstanceOf(OverloadedError)
    expect(await ask('small')).toBeInstanceOf(InternalServerError)
    expect(await ask('big')).toBeInstanceOf(OverloadedError)
    expect(await ask('small')).toMatchObject({ content: [{ type: 'text', text: 'scripted answer' }] })
    expect(await ask('small')).toMatchObject({ model: STAND_IN_MODEL_ID })
    expect(server.requests.map((request) => request.status)).toEqual([429, 529, 500, 529, 200, 200])
  })

  it('delays responses by the configured latency', async () => {
    const { client } = await serve({ latencyMs: 150 })
    const started = Date.now()
    await client.messages.create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
  })

  it('runs as a standalone process that prints its URL', async () => {
    const main = fileURLToPath(new URL('./fixtures/anthropic-server-main.ts', import.meta.url))
    const child = spawn(process.execPath, [main, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8').once('data', (line: string) => resolve(line.trim()))
        child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
      })
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const client = new Anthropic({ apiKey: 'any', baseURL: url, maxRetries: 0 })
      const message = await client.messages.create({ model: 'm', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] })
      expect((message.content[0] as Anthropic.TextBlock).text).toContain(STAND_IN_LABEL)
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
    }
  })
})
