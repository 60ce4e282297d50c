// The errors alone: the client (most of the SDK) loads when a node first calls a model (provider.ts).
import { AnthropicError, APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk/core/error'
import { retryAfterMs } from './backoff.ts'

/** Failed model requests, sorted by what the runtime should do about them, and told in plain words. */

export type FailureKind =
  | 'auth' | 'permission' | 'not_found' | 'bad_request'
  | 'rate_limit' | 'overloaded' | 'server' | 'timeout' | 'connection'
  | 'other'

export interface ModelFailure {
  kind: FailureKind
  status: number | undefined
  /** The API's own explanation when it gave one, else the client's. */
  detail: string
  retryAfterMs: number | undefined
  /** errno-style code of a network failure, e.g. ECONNREFUSED. */
  networkCode: string | undefined
}

const RETRYABLE: ReadonlySet<FailureKind> = new Set(['rate_limit', 'overloaded', 'server', 'timeout', 'connection'])
/** Another model (or endpoint) may well be available when this one stays rate limited, is overloaded or unknown to the endpoint. */
const FALLBACK: ReadonlySet<FailureKind> = new Set(['rate_limit', 'overloaded', 'not_found'])

export function isRetryable (failure: ModelFailure): boolean {
  return RETRYABLE.has(failure.kind)
}

export function warrantsFallback (failure: ModelFailure): boolean {
  return FALLBACK.has(failure.kind)
}

function networkCodeOf (error: unknown): string | undefined {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    const code = (cause as NodeJS.ErrnoException).code
    if (typeof code === 'string') return code
  }
  return undefined
}

function kindOfStatus (status: number): FailureKind {
  if (status === 401) return 'auth'
  if (status === 403) return 'permission'
  if (status === 404) return 'not_found'
  if (status === 429) return 'rate_limit'
  if (status === 529) return 'overloaded'
  // 408 and 409 are transient on this API (the SDK retries them too).
  if (status >= 500 || status === 408 || status === 409) return 'server'
  return 'bad_request'
}

export function classifyFailure (error: unknown): ModelFailure {
  const networkCode = networkCodeOf(error)
  const base = { status: undefined, retryAfterMs: undefined, networkCode, detail: error instanceof Error ? error.message : String(error) }
  if (error instanceof APIConnectionTimeoutError) return { ...base, kind: 'timeout' }
  // Includes error events inside an SSE stream, which the SDK reports without a status.
  if (error instanceof APIConnectionError) return { ...base, kind: 'connection' }
  if (error instanceof APIError && typeof error.status === 'number') {
    return { ...base, kind: kindOfStatus(error.status), status: error.status, detail: error.apiMessage ?? base.detail, retryAfterMs: retryAfterMs(error.headers) }
  }
  // A stream cut off mid-response surfaces as a plain client error with a network cause.
  if (error instanceof AnthropicError && networkCode !== undefined) return { ...base, kind: 'connection' }
  return { ...base, kind: 'other' }
}

export interface FailureContext {
  endpoint: string
  attempts: number
  /** Models tried for this request, in order. */
  models: readonly string[]
  timeoutMs: number
}

export function describeFailure (failure: ModelFailure, context: FailureContext): string {
  const { endpoint, attempts, models, timeoutMs } = context
  const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`
  switch (failure.kind) {
    case 'auth':
      return `authentication failed (401) at ${endpoint}: check ANTHROPIC_API_KEY`
    case 'permission':
      return `permission denied (403) at ${endpoint}: ${failure.detail}`
    case 'not_found':
      return `model not found (404) at ${endpoint}: tried ${models.join(', ')}`
    case 'bad_request':
      return `request rejected (${failure.status ?? '?'}) by ${endpoint}: ${failure.detail}`
    case 'rate_limit':
      return `rate limited (429) at ${endpoint} after ${tries}: ${failure.detail}`
    case 'overloaded':
      return `model overloaded (529) at ${endpoint} after ${tries}; tried ${models.join(', ')}`
    case 'server':
      return `model endpoint error (${failure.status ?? '?'}) at ${endpoint} after ${tries}: ${failure.detail}`
    case 'timeout':
      return `model endpoint timed out after ${timeoutMs} ms (${tries}): ${endpoint}`
    case 'connection':
      return `model endpoint unreachable: ${endpoint} (${failure.networkCode ?? failure.detail}; ${tries})`
    case 'other':
      return `model request to ${endpoint} failed: ${failure.detail}`
  }
}

/** A model request that failed for good: retries and fallbacks are exhausted or pointless. */
export class ModelCallError extends Error {
  override name = 'ModelCallError'
  readonly failure: ModelFailure
  constructor (message: string, failure: ModelFailure) {
    super(message)
    this.failure = failure
  }
}
