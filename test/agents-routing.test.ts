import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { defaults, validateConfig } from '../node/config/config.ts'
import { routingFrom } from '../node/config/model-routing.ts'
import { resolveProvider, runAgent, type AgentProgressEvent, type ModelRouting, type ProviderConfig } from '../src/agents/index.ts'
import { STAND_IN_MODEL_ID } from './fixtures/stand-in-model.ts'
import { startAnthropicServer } from './fixtures/anthropic-server.ts'
import { runCli } from './helpers/cli.ts'
import { modelServersPerTest } from './helpers/model-servers.ts'
import { nodeProcessesPerTest } from './helpers/node-processes.ts'

/** A data dir that is only named in a config, never created. */
const CONFIG_ONLY_DATA_DIR = join(tmpdir(), 'peerflow-config-only')

const serve = modelServersPerTest()
const processes = nodeProcessesPerTest()

function routed (routing: ModelRouting): ProviderConfig {
  return { ...resolveProvider({ maxRetries: 0, retryBaseDelayMs: 10, retryMaxDelayMs: 20 }, {}), routing }
}

describe('model routing by priority', () => {
  it('privacy only ever calls endpoints marked local (seen from the servers)', async () => {
    const cloud = await serve()
    const local = await serve()
    const routing: ModelRouting = {
      endpoints: { cloud: { url: cloud.url, local: false, apiKey: 'k' }, home: { url: local.url, local: true, apiKey: undefined } },
      routes: { quality: [{ endpoint: 'cloud', model: 'claude-opus-5-5' }], privacy: [{ endpoint: 'home', model: 'llama-local' }] },
      prices: {}
    }
    const result = await runAgent({ role: 'reviewer', prompt: 'private code', priority: 'privacy', provider: routed(routing) })
    expect(result).toMatchObject({ status: 'done', requestedModel: 'llama-local' })
    expect(local.requests.map((request) => request.model)).toEqual(['llama-local'])
    expect(cloud.requests).toEqual([])

    // A route built by hand that slips a remote endpoint into privacy: skipped, never called.
    const slipped: ModelRouting = { ...routing, routes: { privacy: [{ endpoint: 'cloud', model: 'claude-opus-5-5' }, { endpoint: 'home', model: 'llama-local' }] } }
    local.script({ kind: 'overloaded', times: Infinity })
    const refused = await runAgent({ role: 'reviewer', prompt: 'private code', priority: 'privacy', provider: routed(slipped) })
    expect(refused.status).toBe('failed')
    expect(cloud.requests).toEqual([])
    const none: ModelRouting = { ...routing, routes: { privacy: [{ endpoint: 'cloud', model: 'claude-opus-5-5' }] } }
    expect(await runAgent({ role: 'reviewer', prompt: 'x', priority: 'privacy', provider: routed(none) })).toMatchObject({
      status: 'failed', error: expect.stringMatching(/^no route for priority privacy: mark an endpoint "local": true/)
    })
    expect(cloud.requests).toEqual([])
  })

  it('the config refuses a privacy route to an endpoint not marked local, and an unknown endpoint', () => {
    const base = defaults(CONFIG_ONLY_DATA_DIR)
    const endpoints = { cloud: { url: 'https://api.anthropic.com' }, home: { url: 'http://127.0.0.1:8080', local: true } }
    expect(() => validateConfig({ ...base, models: { endpoints, routes: { privacy: ['cloud:claude-opus-5-5'] } } }))
      .toThrow("invalid config: models.routes.privacy.0: privacy may only route to endpoints marked \"local\": true ('cloud:claude-opus-5-5' is not)")
    expect(() => validateConfig({ ...base, models: { endpoints, routes: { cost: ['nowhere:m'] } } })).toThrow(/no endpoint named 'nowhere'/)
    const config = validateConfig({ ...base, models: { endpoints: { ...endpoints, home: { ...endpoints.home, apiKeyEnv: 'HOME_KEY' } }, routes: { privacy: ['home:llama'], quality: ['cloud:claude-opus-5-5', 'home:llama'] } } })
    const routing = routingFrom(config.models ?? { endpoints: {}, routes: {}, prices: {} }, { ANTHROPIC_API_KEY: 'sk-cloud', HOME_KEY: 'k-home' })
    expect(routing.endpoints).toEqual({
      cloud: { url: 'https://api.anthropic.com', local: false, apiKey: 'sk-cloud' },
      home: { url: 'http://127.0.0.1:8080', local: true, apiKey: 'k-home' }
    })
    expect(routing.routes.quality).toEqual([{ endpoint: 'cloud', model: 'claude-opus-5-5' }, { endpoint: 'home', model: 'llama' }])
  })

  it('moves down the chain, across endpoints, when a model stays rate limited (429) or overloaded (529), and prices each call', async () => {
    const cloud = await serve()
    const spare = await serve()
    cloud.script({ kind: 'rate_limit', retryAfterSeconds: 0, forModel: 'claude-opus-5-5', times: Infinity }, { kind: 'overloaded', forModel: 'claude-sonnet-5-5', times: Infinity })
    const routing: ModelRouting = {
      endpoints: { cloud: { url: cloud.url, local: false, apiKey: 'k' }, spare: { url: spare.url, local: false, apiKey: 'k' } },
      routes: { quality: [{ endpoint: 'cloud', model: 'claude-opus-5-5' }, { endpoint: 'cloud', model: 'claude-sonnet-5-5' }, { endpoint: 'spare', model: 'backup' }] },
      prices: { [STAND_IN_MODEL_ID]: { inputPerMTok: 1_000, outputPerMTok: 2_000 } }
    }
    const events: AgentProgressEvent[] = []
    const result = await runAgent({ role: 'coder', prompt: 'hello', provider: routed(routing), onProgress: (event) => events.push(event) })
    expect(result).toMatchObject({ status: 'done', requestedModel: 'backup' })
    expect(cloud.requests.map((request) => [request.model, request.status])).toEqual([['claude-opus-5-5', 429], ['claude-sonnet-5-5', 529]])
    expect(spare.requests.map((request) => [request.model, request.status])).toEqual([['backup', 200]])
    expect(events.filter((event) => event.type === 'fallback')).toEqual([
      { type: 'fallback', turn: 1, from: 'claude-opus-5-5', to: 'claude-sonnet-5-5', reason: 'rate_limit (429)' },
      { type: 'fallback', turn: 1, from: 'claude-sonnet-5-5', to: 'backup', reason: 'overloaded (529)' }
    ])
    expect(result.calls).toHaveLength(1)
    const [call] = result.calls
    expect(call).toMatchObject({ turn: 1, endpoint: 'spare', model: 'backup' })
    expect(call?.costUsd).toBeCloseTo(((call?.inputTokens ?? 0) * 1_000 + (call?.outputTokens ?? 0) * 2_000) / 1e6, 9)
    expect(call?.costUsd).toBeGreaterThan(0)
    expect(result.costUsd).toBe(call?.costUsd)
  })
})

describe('peerflow models', () => {
  it('shows the routing table and which endpoints answer', async () => {
    const home = await serve()
    const gone = await startAnthropicServer()
    await gone.close()
    const dir = await processes.dataDir()
    await writeFile(join(dir, 'peerflow.json'), JSON.stringify({
      models: {
        endpoints: { home: { url: home.url, local: true }, gone: { url: gone.url } },
        routes: { quality: ['gone:claude-opus-5-5', 'home:llama'], privacy: ['home:llama'] },
        prices: { llama: { inputPerMTok: 0.1, outputPerMTok: 0.2 } }
      }
    }))
    const node = await processes.start(dir)
    const json = await runCli(['models', '--json', '--api', node.api])
    expect(json.code).toBe(0)
    const report = JSON.parse(json.stdout) as { routes: Array<{ priority: string, steps: Array<{ endpoint: string, model: string }>, error: string | null }>, endpoints: Array<{ name: string, answers: boolean }> }
    expect(report.routes.find((route) => route.priority === 'privacy')?.steps.map((step) => `${step.endpoint}:${step.model}`)).toEqual(['home:llama'])
    expect(report.routes.find((route) => route.priority === 'cost')?.error).toMatch(/no route for priority cost/)
    expect(report.endpoints.map((endpoint) => [endpoint.name, endpoint.answers])).toEqual([['home', true], ['gone', false]])
    const text = await runCli(['models', '--api', node.api])
    expect(text.stdout).toMatch(/^ {2}quality {3}gone:claude-opus-5-5 \(\$5\/\$25 per MTok\) -> home:llama \(\$0\.1\/\$0\.2 per MTok, local\)$/m)
    expect(text.stdout).toMatch(/^ {2}home {2}http:\/\/127\.0\.0\.1:\d+ {2}\[local\] {2}no key {2}answers \(HTTP \d+, \d+ ms\)$/m)
    expect(text.stdout).toMatch(/^ {2}gone {2}http:\/\/127\.0\.0\.1:\d+ {2}no key {2}does not answer: ECONNREFUSED$/m)
  })
})
