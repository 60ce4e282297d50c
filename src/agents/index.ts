export { runAgent, MAX_OUTPUT_TOKENS_PER_TURN } from './runtime.ts'
export type { AgentRunResult, AgentStatus, RunAgentOptions, TranscriptEntry } from './runtime.ts'
export { ROLES, ROLE_NAMES, getRole, isRoleName } from './roles.ts'
export type { AgentBudget, AgentRole, RoleName } from './roles.ts'
export {
  assertConfigured, createClient, DEFAULT_BASE_URL, DEFAULT_FALLBACK, DEFAULT_MODELS, endpointOf, isConfigured,
  MODEL_PRIORITIES, modelChain, ProviderNotConfiguredError, resolveProvider
} from './provider.ts'
export type { ModelPriority, ProviderConfig, ProviderOptions } from './provider.ts'
export { checkToolName, defineTool, MAX_TOOL_RESULT_CHARS, runToolCall, toApiTools, ToolInputError } from './tools.ts'
export type { AgentTool, ToolCall, ToolContext, ToolDefinition, ToolInputSchema, ToolOutcome } from './tools.ts'
export { estimateCostUsd, MODEL_PRICES, priceOf } from './pricing.ts'
export type { ModelPrice, PriceTable, TokenUsage } from './pricing.ts'
export { ModelCallError } from './model-errors.ts'
export type { FailureKind, ModelFailure } from './model-errors.ts'
export type { AgentProgressEvent, ProgressListener } from './progress.ts'
