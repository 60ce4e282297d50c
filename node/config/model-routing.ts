import { resolveProvider, type ModelRouting, type ProviderConfig, type RouteStep } from '../../src/agents/index.ts'
import type { ModelsConfig, NodeConfig } from './config.ts'

/** The routing table `models` in peerflow.json describes, with each endpoint's key read from the environment. */
export function routingFrom (models: ModelsConfig, env: NodeJS.ProcessEnv): ModelRouting {
  const step = (text: string): RouteStep => ({ endpoint: text.slice(0, text.indexOf(':')), model: text.slice(text.indexOf(':') + 1) })
  return {
    endpoints: Object.fromEntries(Object.entries(models.endpoints).map(([name, endpoint]) => {
      const keyVariable = endpoint.apiKeyEnv ?? (endpoint.local ? undefined : 'ANTHROPIC_API_KEY')
      const apiKey = keyVariable === undefined ? undefined : env[keyVariable]?.trim() || undefined
      return [name, { url: endpoint.url.replace(/\/+$/, ''), local: endpoint.local, apiKey }]
    })),
    routes: Object.fromEntries(Object.entries(models.routes).map(([priority, steps]) => [priority, (steps ?? []).map(step)])),
    prices: models.prices
  }
}

/**
 * The provider this node's agents use: ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL from the environment
 * (else `agents.baseUrl`), and the `models` routing table when the config has one.
 */
export function nodeProvider (config: NodeConfig, env: NodeJS.ProcessEnv): ProviderConfig {
  const provider = resolveProvider((env.ANTHROPIC_BASE_URL ?? '').trim() === '' ? { baseURL: config.agents.baseUrl } : {}, env)
  return config.models === undefined ? provider : { ...provider, routing: routingFrom(config.models, env) }
}
