import type Anthropic from '@anthropic-ai/sdk'
import { backoffDelayMs, sleep } from './backoff.ts'
import { classifyFailure, describeFailure, isRetryable, ModelCallError, warrantsFallback } from './model-errors.ts'
import type { ModelFailure } from './model-errors.ts'
import type { ProgressListener } from './progress.ts'
import type { ProviderConfig } from './provider.ts'
import type { ChainStep } from './routing.ts'

/** One streamed model request, with bounded retries and, when a model is unavailable, the next model in the chain. */

/** Position in the fallback chain; it only moves forward, so later turns keep using the model that worked. */
export interface ModelCursor {
  chain: readonly ChainStep[]
  index: number
}

export type TurnParams = Omit<Anthropic.MessageStreamParams, 'model' | 'stream'>

export interface ModelCallOptions {
  provider: ProviderConfig
  cursor: ModelCursor
  params: TurnParams
  signal: AbortSignal
  turn: number
  emit: ProgressListener
}

export interface ModelAnswer {
  message: Anthropic.Message
  /** The chain entry that answered (the endpoint may report a different id in the message). */
  requestedModel: string
  /** The endpoint (by its configured name) that answered. */
  endpoint: string
}

async function streamOnce (options: ModelCallOptions, step: ChainStep): Promise<Anthropic.Message> {
  const client = await step.client()
  const stream = client.messages.stream({ ...options.params, model: step.model }, { signal: options.signal })
  stream.on('text', (delta) => options.emit({ type: 'text', turn: options.turn, delta }))
  return await stream.finalMessage()
}

function reasonOf (failure: ModelFailure): string {
  return failure.status === undefined ? `${failure.kind}: ${failure.detail}` : `${failure.kind} (${failure.status})`
}

/** Rejects with ModelCallError when the request cannot succeed, or with the abort reason when the signal fires. */
export async function callModel (options: ModelCallOptions): Promise<ModelAnswer> {
  const { provider, cursor, signal, turn, emit } = options
  const tried: string[] = []
  let attempts = 0
  for (;;) {
    const step = cursor.chain[cursor.index] as ChainStep
    const model = step.model
    tried.push(model)
    for (let retry = 0; ; retry++) {
      let failure: ModelFailure
      try {
        attempts++
        return { message: await streamOnce(options, step), requestedModel: model, endpoint: step.endpoint }
      } catch (err) {
        if (signal.aborted) throw signal.reason
        failure = classifyFailure(err)
      }
      if (isRetryable(failure) && retry < provider.maxRetries) {
        const delayMs = failure.retryAfterMs ?? backoffDelayMs(retry + 1, provider.retryBaseDelayMs, provider.retryMaxDelayMs)
        emit({ type: 'retry', turn, model, attempt: retry + 1, maxRetries: provider.maxRetries, delayMs, reason: reasonOf(failure) })
        await sleep(delayMs, signal)
        continue
      }
      if (warrantsFallback(failure) && cursor.index + 1 < cursor.chain.length) {
        cursor.index++
        emit({ type: 'fallback', turn, from: model, to: cursor.chain[cursor.index]?.model ?? '?', reason: reasonOf(failure) })
        break
      }
      throw new ModelCallError(describeFailure(failure, { endpoint: step.url, attempts, models: tried, timeoutMs: provider.timeoutMs }), failure)
    }
  }
}
