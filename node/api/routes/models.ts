import { isConfigured, NoRouteError, ROUTE_PRIORITIES, routeChain, routedPrice, routingOf, type RoutePriority } from '../../../src/agents/index.ts'
import { nodeProvider } from '../../config/model-routing.ts'
import type { Route } from '../route.ts'

/** How long `peerflow models` waits for each endpoint. */
const PROBE_TIMEOUT_MS = 3_000

export interface RouteStepView {
  endpoint: string
  url: string
  local: boolean
  model: string
  /** USD per million tokens; null when no price is known (the call is recorded at 0). */
  price: { inputPerMTok: number, outputPerMTok: number } | null
}

export interface EndpointView {
  name: string
  url: string
  local: boolean
  hasKey: boolean
  /** Whether anything answered HTTP there; `status` is what it answered. */
  answers: boolean
  status: number | null
  latencyMs: number | null
  error: string | null
}

/** The reply of GET /models, printed by `peerflow models`. */
export interface ModelsReport {
  configured: boolean
  routes: Array<{ priority: RoutePriority, steps: RouteStepView[], error: string | null }>
  endpoints: EndpointView[]
}

/** Asks for the model list: any HTTP answer (even 401 without a key) shows the endpoint is up, and no tokens are spent. */
async function probe (name: string, url: string, local: boolean, apiKey: string | undefined): Promise<EndpointView> {
  const started = performance.now()
  try {
    const response = await fetch(`${url}/v1/models`, {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      headers: { 'anthropic-version': '2023-06-01', ...(apiKey === undefined ? {} : { 'x-api-key': apiKey }) }
    })
    await response.body?.cancel()
    return { name, url, local, hasKey: apiKey !== undefined, answers: true, status: response.status, latencyMs: Math.round(performance.now() - started), error: null }
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code
    const error = (err as Error).name === 'TimeoutError' ? `no answer within ${PROBE_TIMEOUT_MS} ms` : cause ?? (err as Error).message
    return { name, url, local, hasKey: apiKey !== undefined, answers: false, status: null, latencyMs: null, error }
  }
}

export const modelsRoute: Route = {
  method: 'GET',
  path: '/models',
  handle: async ({ node }) => {
    const provider = nodeProvider(node.config, process.env)
    const routing = routingOf(provider)
    const routes = ROUTE_PRIORITIES.map((priority) => {
      try {
        const steps = routeChain(provider, priority).map((step): RouteStepView => ({
          endpoint: step.endpoint, url: step.url, local: routing.endpoints[step.endpoint]?.local ?? false, model: step.model, price: routedPrice(provider, step.model) ?? null
        }))
        return { priority, steps, error: null }
      } catch (err) {
        if (!(err instanceof NoRouteError)) throw err
        return { priority, steps: [], error: err.message }
      }
    })
    const endpoints = await Promise.all(Object.entries(routing.endpoints).map(async ([name, endpoint]) => probe(name, endpoint.url, endpoint.local, endpoint.apiKey)))
    const report: ModelsReport = { configured: isConfigured(provider), routes, endpoints }
    return report
  }
}
