import type { TokenUsage } from './pricing.ts'

/** What a running agent reports as it goes, for logs, dashboards and tests. */
export type AgentProgressEvent =
  | { type: 'turn_start', turn: number, maxTurns: number, model: string }
  | { type: 'text', turn: number, delta: string }
  /** `usage` and `costUsd` are totals so far. */
  | { type: 'turn_end', turn: number, maxTurns: number, stopReason: string | null, usage: TokenUsage, costUsd: number }
  | { type: 'tool_call', turn: number, name: string, id: string, isError: boolean, durationMs: number }
  | { type: 'retry', turn: number, model: string, attempt: number, maxRetries: number, delayMs: number, reason: string }
  | { type: 'fallback', turn: number, from: string, to: string, reason: string }

export type ProgressListener = (event: AgentProgressEvent) => void
