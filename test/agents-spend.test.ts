import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool, priceOf, resolveProvider, runAgent } from '../src/agents/index.ts'
import type { AnthropicServer } from './fixtures/anthropic-server.ts'
import { STAND_IN_MODEL_ID } from './fixtures/stand-in-model.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'

/** The runtime's spend controls: prices from the table or the caller, a run's USD cap, and a gate asked before every call. */

const serve = modelServersPerTest()
const PRICES = { [STAND_IN_MODEL_ID]: { inputPerMTok: 100, outputPerMTok: 100 } }

function providerFor (server: AnthropicServer): ReturnType<typeof resolveProvider> {
  return resolveProvider({ baseURL: server.url, apiKey: 'test-key', retryBaseDelayMs: 10, retryMaxDelayMs: 40 }, {})
}

const noteTool = defineTool({
  name: 'memory_write',
  description: 'Store a note under a key',
  input: z.object({ key: z.string(), value: z.string() }),
  async run ({ key }) { return { stored: key } }
})

function maxTokensOf (body: unknown): number {
  return (body as { max_tokens: number }).max_tokens
}

describe('agent spend controls', () => {
  it('prices the stand-in from the caller\'s table and stops at maxCostUsd before the next call', async () => {
    const server = await serve()
    const run = await runAgent({
      role: 'coder', prompt: 'Remember that the build uses vitest', tools: [noteTool], provider: providerFor(server), prices: PRICES, maxCostUsd: 0.01
    })
    expect(run.costUsd).toBeGreaterThan(0.01)
    expect(run.status).toBe('failed')
    expect(run.error).toMatch(/^budget exceeded: spend cap \$0\.0100 \(spent \$0\.0\d+\)$/)
    // One call made; the second (after the tool) was not.
    expect(server.requests).toHaveLength(1)
    const unpriced = await runAgent({ role: 'coder', prompt: 'hello', provider: providerFor(server) })
    expect(unpriced.costUsd).toBe(0)
  })

  it('asks the gate before every call, limits output to what the allowance pays for, and stops when it refuses', async () => {
    const server = await serve()
    const asked: number[] = []
    const run = await runAgent({
      role: 'coder',
      prompt: 'Remember that the build uses vitest',
      tools: [noteTool],
      provider: providerFor(server),
      prices: PRICES,
      spendGate: async (spent) => {
        asked.push(spent)
        if (asked.length === 1) return 0.005
        throw new Error('budget exceeded: the swarm cap is spent')
      }
    })
    expect(asked).toHaveLength(2)
    expect(asked[0]).toBe(0)
    expect(asked[1]).toBeGreaterThan(0)
    // $0.005 at the output price of the model asked for (no reply has said which model answers yet).
    const first = server.requests[0]
    const price = priceOf(first?.model ?? '', PRICES)?.outputPerMTok as number
    expect(maxTokensOf(first?.body)).toBe(Math.floor(0.005 * 1_000_000 / price))
    expect(run).toMatchObject({ status: 'failed', error: 'budget exceeded: the swarm cap is spent' })
    expect(server.requests).toHaveLength(1)
  })
})
