import type Anthropic from '@anthropic-ai/sdk'
import type { ModelRouting } from './route-table.ts'

/** Which model a caller wants; the provider maps each tier to a concrete model id. */
export type ModelPriority = 'quality' | 'balanced' | 'cost' | 'speed'
export const MODEL_PRIORITIES: readonly ModelPriority[] = ['quality', 'balanced', 'cost', 'speed']

export const DEFAULT_BASE_URL = 'https://api.anthropic.com'

export const DEFAULT_MODELS: Readonly<Record<ModelPriority, string>> = {
  quality: 'claude-opus-5-5',
  balanced: 'claude-sonnet-5-5',
  cost: 'claude-haiku-5-5',
  speed: 'claude-haiku-5-5'
}

/** Where a tier goes when its model is overloaded or unknown to the endpoint. */
export const DEFAULT_FALLBACK: Readonly<Partial<Record<ModelPriority, ModelPriority>>> = {
  quality: 'balanced',
  balanced: 'cost',
  speed: 'cost'
}

/**
 * Compatible local servers usually ignore the key, but the SDK refuses to send a request without one.
 * Only used when a base URL is configured and no key is.
 */
const PLACEHOLDER_API_KEY = 'peerflow-no-key'

export interface ProviderConfig {
  apiKey: string | undefined
  /** undefined means the public Anthropic API. */
  baseURL: string | undefined
  models: Record<ModelPriority, string>
  fallback: Partial<Record<ModelPriority, ModelPriority>>
  /** Retries per model on rate limits, overload, 5xx and connection errors (the SDK's own retries are off). */
  maxRetries: number
  /** Per request. */
  timeoutMs: number
  retryBaseDelayMs: number
  retryMaxDelayMs: number
  /** Several endpoints and per-priority routes (routing.ts); absent, every call goes to `baseURL`. */
  routing?: ModelRouting
}

export type ProviderOptions = Partial<Omit<ProviderConfig, 'models'>> & { models?: Partial<Record<ModelPriority, string>> }

export class ProviderNotConfiguredError extends Error {
  override name = 'ProviderNotConfiguredError'
  constructor () {
    super('no model provider configured: set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for a compatible server)')
  }
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

function checkCount (name: string, value: number, minimum: number): number {
  if (!Number.isInteger(value) || value < minimum) throw new Error(`invalid provider ${name}: ${value} (expected an integer >= ${minimum})`)
  return value
}

/** Explicit options win over the environment (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, PEERFLOW_MODEL_<TIER>). */
export function resolveProvider (options: ProviderOptions = {}, env: NodeJS.ProcessEnv = process.env): ProviderConfig {
  const models = { ...DEFAULT_MODELS }
  for (const priority of MODEL_PRIORITIES) {
    models[priority] = nonEmpty(options.models?.[priority]) ?? nonEmpty(env[`PEERFLOW_MODEL_${priority.toUpperCase()}`]) ?? models[priority]
  }
  const baseURL = nonEmpty(options.baseURL) ?? nonEmpty(env.ANTHROPIC_BASE_URL)
  if (baseURL !== undefined && !URL.canParse(baseURL)) throw new Error(`invalid model provider base URL: ${baseURL}`)
  return {
    apiKey: nonEmpty(options.apiKey) ?? nonEmpty(env.ANTHROPIC_API_KEY),
    baseURL: baseURL?.replace(/\/+$/, ''),
    models,
    fallback: { ...(options.fallback ?? DEFAULT_FALLBACK) },
    maxRetries: checkCount('maxRetries', options.maxRetries ?? 3, 0),
    timeoutMs: checkCount('timeoutMs', options.timeoutMs ?? 120_000, 1),
    retryBaseDelayMs: checkCount('retryBaseDelayMs', options.retryBaseDelayMs ?? 500, 0),
    retryMaxDelayMs: checkCount('retryMaxDelayMs', options.retryMaxDelayMs ?? 8_000, 0)
  }
}

export function isConfigured (config: ProviderConfig): boolean {
  return config.apiKey !== undefined || config.baseURL !== undefined || Object.keys(config.routing?.endpoints ?? {}).length > 0
}

export function assertConfigured (config: ProviderConfig): void {
  if (!isConfigured(config)) throw new ProviderNotConfiguredError()
}

/** The URL requests go to, for error messages. */
export function endpointOf (config: ProviderConfig): string {
  return config.baseURL ?? DEFAULT_BASE_URL
}

/** The models to try for a tier, in order, following the fallback links without repeats. */
export function modelChain (config: ProviderConfig, priority: ModelPriority): string[] {
  const chain: string[] = []
  const visited = new Set<ModelPriority>()
  for (let tier: ModelPriority | undefined = priority; tier !== undefined && !visited.has(tier); tier = config.fallback[tier]) {
    visited.add(tier)
    if (!chain.includes(config.models[tier])) chain.push(config.models[tier])
  }
  return chain
}

/**
 * The SDK's client class, imported on first use: it is about 5 MB of heap (and Node's fetch stack
 * behind it) that a node which never calls a model does not carry.
 */
let clientClass: Promise<typeof Anthropic> | undefined

export async function createClient (config: ProviderConfig): Promise<Anthropic> {
  assertConfigured(config)
  clientClass ??= import('@anthropic-ai/sdk').then((sdk) => sdk.default)
  const AnthropicClient = await clientClass
  return new AnthropicClient({
    apiKey: config.apiKey ?? PLACEHOLDER_API_KEY,
    // Ignore ANTHROPIC_AUTH_TOKEN from the environment: the key above is the one credential we mean to send.
    authToken: null,
    baseURL: endpointOf(config),
    timeout: config.timeoutMs,
    // Retries happen in the runtime, where they are bounded by the budget and reported as progress.
    maxRetries: 0
  })
}
