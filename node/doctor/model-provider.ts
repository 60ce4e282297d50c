import { createClient, endpointOf, isConfigured, ROUTE_PRIORITIES, routeChain, type ProviderConfig } from '../../src/agents/index.ts'
import { nodeProvider } from '../config/model-routing.ts'
import { classifyFailure, type FailureKind } from '../../src/agents/model-errors.ts'
import type { NodeConfig } from '../config/config.ts'
import { failed, passed, type CheckResult } from './check.ts'

/** The provider the node's agents would use: the environment first, then `agents.baseUrl` (as node/tasks.ts resolves it). */
export function providerFor (config: NodeConfig, env: NodeJS.ProcessEnv): ProviderConfig {
  return nodeProvider(config, env)
}

const FIXES: Partial<Record<FailureKind, string>> = {
  auth: 'the endpoint refused the key: check ANTHROPIC_API_KEY',
  permission: 'the key may not use this model: check the key\'s workspace and model access',
  not_found: 'the endpoint does not know this model: set PEERFLOW_MODEL_SPEED to one it serves, or check ANTHROPIC_BASE_URL',
  connection: 'nothing answers there: check ANTHROPIC_BASE_URL, DNS, proxies and the firewall',
  timeout: 'the endpoint is slow or unreachable: check the network path to it',
  rate_limit: 'the key is rate limited right now: wait, or raise the limit on the provider\'s console',
  overloaded: 'the provider is overloaded right now: try again shortly'
}

/** A key or a compatible endpoint is configured, and a one-token request to the cheapest tier succeeds. */
export async function checkModelProvider (config: NodeConfig, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CheckResult> {
  const name = 'model provider'
  let provider: ProviderConfig
  try {
    provider = providerFor(config, env)
  } catch (err) {
    return failed(name, (err as Error).message, 'set ANTHROPIC_BASE_URL (or agents.baseUrl in peerflow.json) to a valid http(s) URL')
  }
  if (!isConfigured(provider)) {
    return failed(name, 'not configured: neither ANTHROPIC_API_KEY nor ANTHROPIC_BASE_URL is set in this environment (nor agents.baseUrl in peerflow.json)',
      "export ANTHROPIC_API_KEY=<your key> for Anthropic's API, or ANTHROPIC_BASE_URL=<url> for a compatible endpoint, where the node runs")
  }
  // The first step of the cheapest route that has one: what a quick agent call would use.
  const step = ROUTE_PRIORITIES.filter((priority) => priority !== 'privacy').flatMap((priority) => {
    try { return routeChain({ ...provider, timeoutMs }, priority).slice(0, 1) } catch { return [] }
  }).at(-1)
  const endpoint = step?.url ?? endpointOf(provider)
  const model = step?.model ?? provider.models.speed
  const started = performance.now()
  try {
    const client = await (step?.client() ?? createClient({ ...provider, timeoutMs }))
    await client.messages.create({ model, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] })
  } catch (err) {
    const failure = classifyFailure(err)
    const status = failure.status === undefined ? '' : ` (HTTP ${failure.status})`
    return failed(name, `${endpoint} did not answer a one-token request to ${model}${status}: ${failure.detail}`,
      FIXES[failure.kind] ?? 'check ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY')
  }
  return passed(name, `${endpoint} answered ${model} in ${Math.round(performance.now() - started)} ms`)
}
