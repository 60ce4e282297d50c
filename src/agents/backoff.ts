/** Waiting between retries: exponential backoff with jitter, server-requested delays, abortable sleep. */

/** A server asking for longer than this is not waited for in full; the budget's wall time still applies. */
export const MAX_RETRY_AFTER_MS = 60_000

/**
 * Delay before retry number `attempt` (1-based): doubling from `baseMs`, capped at `maxMs`, with the
 * upper half randomised so that many agents retrying at once spread out.
 */
export function backoffDelayMs (attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1))
  return Math.round(ceiling / 2 + random() * ceiling / 2)
}

/** The delay a response asks for via retry-after-ms or retry-after (seconds or an HTTP date). */
export function retryAfterMs (headers: Headers | undefined, now: number = Date.now()): number | undefined {
  const millis = Number.parseFloat(headers?.get('retry-after-ms') ?? '')
  if (Number.isFinite(millis) && millis >= 0) return Math.min(millis, MAX_RETRY_AFTER_MS)
  const value = headers?.get('retry-after')
  if (value === null || value === undefined) return undefined
  const seconds = Number.parseFloat(value)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now
  return Number.isFinite(ms) && ms >= 0 ? Math.min(Math.round(ms), MAX_RETRY_AFTER_MS) : undefined
}

/** Resolves after `ms`; rejects with the signal's reason as soon as it aborts. */
export function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
