import type Anthropic from '@anthropic-ai/sdk'
import { priceOf, type ModelPrice, type PriceTable } from './pricing.ts'
import { createClient, endpointOf, modelChain, type ModelPriority, type ProviderConfig } from './provider.ts'
import type { ModelEndpoint, ModelRouting, RoutePriority } from './route-table.ts'

export { ROUTE_PRIORITIES } from './route-table.ts'
export type { ModelEndpoint, ModelRouting, RoutePriority, RouteStep } from './route-table.ts'

/**
 * Model routing by priority across several Anthropic-compatible endpoints. Each priority has an
 * ordered list of endpoint + model; the runtime moves down it when a model stays rate limited,
 * overloaded or unknown. `privacy` only ever routes to endpoints the config marks local.
 */

/** One step of a chain, ready to call. */
export interface ChainStep {
  endpoint: string
  url: string
  model: string
  /** The endpoint's client, created on first call (shared by the chain's steps on that endpoint). */
  client: () => Promise<Anthropic>
}

export class NoRouteError extends Error {
  override name = 'NoRouteError'
}

/** The endpoint a provider configured by environment alone stands for, under this name. */
export const DEFAULT_ENDPOINT = 'default'

/**
 * The routing a provider implies: its own routing when configured, else its one endpoint with the
 * per-tier models and their fallbacks, and no `privacy` route (nothing is marked local).
 */
export function routingOf (provider: ProviderConfig): ModelRouting {
  if (provider.routing !== undefined) return provider.routing
  const tiers: ModelPriority[] = ['quality', 'balanced', 'cost', 'speed']
  return {
    endpoints: { [DEFAULT_ENDPOINT]: { url: endpointOf(provider), local: false, apiKey: provider.apiKey } },
    routes: Object.fromEntries(tiers.map((tier) => [tier, modelChain(provider, tier).map((model) => ({ endpoint: DEFAULT_ENDPOINT, model }))])),
    prices: {}
  }
}

/** The steps to try for `priority`, each with its client. Throws NoRouteError when there are none. */
export function routeChain (provider: ProviderConfig, priority: RoutePriority): ChainStep[] {
  const routing = routingOf(provider)
  const steps = (routing.routes[priority] ?? []).filter((step) => {
    const endpoint = routing.endpoints[step.endpoint]
    // Checked here as well as in the config: privacy must hold even if a route was built by hand.
    return endpoint !== undefined && (priority !== 'privacy' || endpoint.local)
  })
  if (steps.length === 0) {
    throw new NoRouteError(priority === 'privacy'
      ? 'no route for priority privacy: mark an endpoint "local": true under models.endpoints and list it in models.routes.privacy'
      : `no route for priority ${priority}: list endpoint:model steps in models.routes.${priority}`)
  }
  const clients = new Map<string, Promise<Anthropic>>()
  return steps.map((step) => {
    const endpoint = routing.endpoints[step.endpoint] as ModelEndpoint
    const client = async (): Promise<Anthropic> => {
      let created = clients.get(step.endpoint)
      if (created === undefined) {
        created = createClient({ ...provider, baseURL: endpoint.url, apiKey: endpoint.apiKey })
        clients.set(step.endpoint, created)
      }
      return created
    }
    return { endpoint: step.endpoint, url: endpoint.url, model: step.model, client }
  })
}

/** The price of a model under this routing: the routing's prices first, then `overrides` over the built-in list. */
export function routedPrice (provider: ProviderConfig, model: string, overrides?: PriceTable): ModelPrice | undefined {
  return provider.routing?.prices[model] ?? priceOf(model, overrides)
}

/** What one call cost, priced by the model the endpoint says answered (0 when no price is known). */
export function routedCostUsd (provider: ProviderConfig, model: string, usage: { inputTokens: number, outputTokens: number }, overrides?: PriceTable): number {
  const price = routedPrice(provider, model, overrides)
  return price === undefined ? 0 : (usage.inputTokens * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1_000_000
}
