/**
 * Rough cost estimates. Prices are USD per million tokens: the 4.5 models at their published list
 * prices when this was written, and the 5.5 models assumed to cost the same as the 4.5 model of their
 * tier. Cache discounts are ignored, so estimates err high. Models not listed (local or compatible
 * servers, stand-ins) are estimated at 0. Check current pricing before relying on these numbers.
 */

export interface ModelPrice { inputPerMTok: number, outputPerMTok: number }

export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  'claude-opus-5-5': { inputPerMTok: 5, outputPerMTok: 25 },
  'claude-sonnet-5-5': { inputPerMTok: 3, outputPerMTok: 15 },
  'claude-haiku-5-5': { inputPerMTok: 1, outputPerMTok: 5 },
  'claude-opus-4-5': { inputPerMTok: 5, outputPerMTok: 25 },
  'claude-sonnet-4-5': { inputPerMTok: 3, outputPerMTok: 15 },
  'claude-haiku-4-5': { inputPerMTok: 1, outputPerMTok: 5 }
}

export interface TokenUsage { inputTokens: number, outputTokens: number }

/** Model id -> price; a node's config can add models or override these. */
export type PriceTable = Readonly<Record<string, ModelPrice>>

/** Dated snapshots (claude-opus-4-5-20251101) cost what their alias costs. `overrides` win over the built-in table. */
export function priceOf (model: string, overrides: PriceTable = {}): ModelPrice | undefined {
  const alias = model.replace(/-\d{8}$/, '')
  return overrides[model] ?? overrides[alias] ?? MODEL_PRICES[model] ?? MODEL_PRICES[alias]
}

export function estimateCostUsd (model: string, usage: TokenUsage, overrides: PriceTable = {}): number {
  const price = priceOf(model, overrides)
  if (price === undefined) return 0
  return (usage.inputTokens * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1_000_000
}
