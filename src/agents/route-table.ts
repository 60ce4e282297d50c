import type { ModelPrice } from './pricing.ts'

/** The shape of a routing table (see routing.ts): endpoints, per-priority chains, prices. */

export const ROUTE_PRIORITIES = ['quality', 'balanced', 'cost', 'speed', 'privacy'] as const
export type RoutePriority = typeof ROUTE_PRIORITIES[number]

export interface ModelEndpoint {
  url: string
  /** Runs on this machine or a network the owner trusts with the data: the only kind `privacy` uses. */
  local: boolean
  /** Sent as the key; compatible local servers usually need none. */
  apiKey: string | undefined
}

export interface RouteStep {
  endpoint: string
  model: string
}

export interface ModelRouting {
  endpoints: Readonly<Record<string, ModelEndpoint>>
  routes: Readonly<Partial<Record<RoutePriority, readonly RouteStep[]>>>
  /** Prices per model id, over the built-in list (pricing.ts). */
  prices: Readonly<Record<string, ModelPrice>>
}
