import type Anthropic from '@anthropic-ai/sdk'
import type { Attributes } from '@opentelemetry/api'
import { endWithError, GEN_AI, PEERFLOW_ATTRIBUTES, startAgentSpan, startChatSpan, startToolSpan } from './gen-ai-spans.ts'
import { callModel } from './model-call.ts'
import type { ModelCursor } from './model-call.ts'
import { ModelCallError } from './model-errors.ts'
import type { PriceTable, TokenUsage } from './pricing.ts'
import { NoRouteError, routeChain, routedCostUsd, routedPrice, type RoutePriority } from './routing.ts'
import type { AgentProgressEvent, ProgressListener } from './progress.ts'
import type { ProviderConfig } from './provider.ts'
import { isConfigured, ProviderNotConfiguredError, resolveProvider } from './provider.ts'
import type { AgentBudget, AgentRole, RoleName } from './roles.ts'
import { getRole } from './roles.ts'
import type { AgentTool } from './tools.ts'
import { runToolCall, toApiTools } from './tools.ts'

/** Runs one agent: a role, a prompt and injected tools, looping over tool use until the model is done or the budget runs out. */

export interface RunAgentOptions {
  role: RoleName | AgentRole
  prompt: string
  /** Background for the task, e.g. retrieved patterns; sent as part of the system prompt. */
  context?: string
  tools?: readonly AgentTool[]
  /** Defaults to resolveProvider() (environment variables). */
  provider?: ProviderConfig
  /** Defaults to the role's priority. */
  priority?: RoutePriority
  /** Overrides the role's default budget field by field. */
  budget?: Partial<AgentBudget>
  signal?: AbortSignal
  onProgress?: (event: AgentProgressEvent) => void
  /** Added to the run's trace spans, e.g. the task id and swarm (see gen-ai-spans.ts). */
  traceAttributes?: Attributes
  /** Prices that add to or override the built-in table (pricing.ts). */
  prices?: PriceTable
  /**
   * Spend cap in USD for this run: no call is made once the run has spent it, and each call's output
   * is limited to what the rest of the cap pays for. A call's input tokens are only known once it is
   * answered, so the run can overshoot by at most one call's input cost.
   */
  maxCostUsd?: number
  /**
   * Asked before every model call with what the run has spent: resolves with how much more it may
   * spend (it may wait for an allotment), or rejects to stop the run with that reason as a budget stop.
   */
  spendGate?: (spentUsd: number) => Promise<number>
}

export type AgentStatus = 'done' | 'failed' | 'cancelled'

export type TranscriptEntry =
  | { turn: number, role: 'user', text: string }
  | { turn: number, role: 'assistant', model: string, stopReason: string | null, text: string, toolCalls: string[] }
  | { turn: number, role: 'tool', name: string, isError: boolean, text: string }

export interface AgentRunResult {
  status: AgentStatus
  role: string
  /** The model's last text; partial when the run did not finish. */
  text: string
  turns: number
  usage: TokenUsage
  /** Model id the endpoint reported for the last reply. */
  model: string | undefined
  /** The configured model that was asked for it (differs from the first choice after a fallback). */
  requestedModel: string | undefined
  error?: string
  /** Why a failed run stopped: a budget it ran out of is final, anything else may go better on a retry. */
  failure?: 'budget' | 'other'
  /** Every message in order, texts truncated. */
  transcript: TranscriptEntry[]
  /** See pricing.ts: a rough estimate, 0 for models without a listed price. */
  costUsd: number
  /** Every model call that answered, with what it cost. */
  calls: ModelCallRecord[]
  durationMs: number
}

export interface ModelCallRecord {
  turn: number
  endpoint: string
  model: string
  inputTokens: number
  outputTokens: number
  costUsd: number
}

/** Per-request output cap; the token budget can lower it. */
export const MAX_OUTPUT_TOKENS_PER_TURN = 8192
const TRANSCRIPT_TEXT_CHARS = 300

class BudgetExceeded extends Error {
  override name = 'BudgetExceeded'
}

class ModelStopped extends Error {
  override name = 'ModelStopped'
}

function clip (text: string): string {
  return text.length <= TRANSCRIPT_TEXT_CHARS ? text : `${text.slice(0, TRANSCRIPT_TEXT_CHARS - 3)}...`
}

function textOf (message: Anthropic.Message): string {
  return message.content.flatMap((block) => block.type === 'text' ? [block.text] : []).join('')
}

/** Echoes the assistant turn back in request form; only text and tool calls are ever requested by this runtime. */
function asParams (content: Anthropic.ContentBlock[]): Anthropic.ContentBlockParam[] {
  return content.flatMap((block): Anthropic.ContentBlockParam[] => {
    if (block.type === 'text') return [{ type: 'text', text: block.text }]
    if (block.type === 'tool_use') return [{ type: 'tool_use', id: block.id, name: block.name, input: block.input }]
    return []
  })
}

function checkBudget (budget: AgentBudget): AgentBudget {
  for (const [field, value] of Object.entries(budget)) {
    if (!Number.isFinite(value) || value <= 0) throw new Error(`invalid agent budget: ${field} must be a positive number, got ${value}`)
  }
  return budget
}

function systemPrompt (role: AgentRole, context: string | undefined): Anthropic.TextBlockParam[] {
  const blocks: Anthropic.TextBlockParam[] = [{ type: 'text', text: role.systemPrompt }]
  if (context !== undefined && context.trim() !== '') {
    blocks.push({ type: 'text', text: `Context retrieved for this task (may be incomplete or outdated):\n${context}` })
  }
  return blocks
}

/** Resolves with a result for every outcome the run can meet; rejects only on invalid options. */
export async function runAgent (options: RunAgentOptions): Promise<AgentRunResult> {
  const role = typeof options.role === 'string' ? getRole(options.role) : options.role
  const budget = checkBudget({ ...role.budget, ...options.budget })
  const tools = options.tools ?? []
  const apiTools = toApiTools(tools)
  const provider = options.provider ?? resolveProvider()
  const startedAt = Date.now()
  const traceAttributes = options.traceAttributes ?? {}
  const { span: agentSpan, under } = startAgentSpan(role.name, traceAttributes)

  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0 }
  const transcript: TranscriptEntry[] = [{ turn: 0, role: 'user', text: clip(options.prompt) }]
  let turns = 0
  let costUsd = 0
  let text = ''
  let model: string | undefined
  let requestedModel: string | undefined
  const calls: ModelCallRecord[] = []

  const emit: ProgressListener = (event) => {
    try {
      options.onProgress?.(event)
    } catch {
      // A faulty listener must not fail the agent it is watching.
    }
  }
  const finish = (status: AgentStatus, error?: string, failure?: AgentRunResult['failure']): AgentRunResult => {
    agentSpan.setAttributes({
      [GEN_AI.inputTokens]: usage.inputTokens, [GEN_AI.outputTokens]: usage.outputTokens, [PEERFLOW_ATTRIBUTES.costUsd]: costUsd,
      ...(model === undefined ? {} : { [GEN_AI.responseModel]: model }), ...(requestedModel === undefined ? {} : { [GEN_AI.requestModel]: requestedModel })
    })
    if (status === 'done') agentSpan.end()
    else endWithError(agentSpan, status, error ?? status)
    return {
      status, role: role.name, text, turns, usage: { ...usage }, model, requestedModel, ...(error === undefined ? {} : { error }),
      ...(status === 'failed' ? { failure: failure ?? 'other' } : {}),
      transcript, costUsd, calls, durationMs: Date.now() - startedAt
    }
  }

  if (!isConfigured(provider)) return finish('failed', new ProviderNotConfiguredError().message)
  // A function, not a property read, so TypeScript does not assume the signal stays as it was checked here.
  const cancelled = (): boolean => options.signal?.aborted === true
  if (cancelled()) return finish('cancelled', 'cancelled before start')

  const wallClock = new AbortController()
  const wallTimer = setTimeout(() => wallClock.abort(new BudgetExceeded(`budget exceeded: wall time ${budget.wallTimeMs} ms`)), budget.wallTimeMs)
  const signal = options.signal === undefined ? wallClock.signal : AbortSignal.any([options.signal, wallClock.signal])

  const tokensUsed = (): number => usage.inputTokens + usage.outputTokens
  const checkTokens = (): void => {
    if (tokensUsed() >= budget.maxTokens) throw new BudgetExceeded(`budget exceeded: max tokens ${budget.maxTokens} (used ${tokensUsed()})`)
  }
  const maxCostUsd = options.maxCostUsd
  const ensureRoomForAnotherTurn = (): void => {
    if (turns >= budget.maxTurns) throw new BudgetExceeded(`budget exceeded: max turns ${budget.maxTurns}`)
    checkTokens()
    if (maxCostUsd !== undefined && costUsd >= maxCostUsd) throw new BudgetExceeded(`budget exceeded: spend cap $${maxCostUsd.toFixed(4)} (spent $${costUsd.toFixed(4)})`)
  }
  /** What may still be spent: the run's cap and the gate's allowance, whichever is smaller. */
  const spendable = async (): Promise<number> => {
    let allowance = maxCostUsd === undefined ? Number.POSITIVE_INFINITY : maxCostUsd - costUsd
    if (options.spendGate !== undefined) {
      try {
        allowance = Math.min(allowance, await options.spendGate(costUsd))
      } catch (err) {
        throw new BudgetExceeded((err as Error).message)
      }
    }
    return allowance
  }
  /** Output tokens `usd` pays for, at the price of the model expected to answer. */
  const affordableOutput = (usd: number, requested: string | undefined): number => {
    const price = Number.isFinite(usd) ? routedPrice(provider, model ?? requested ?? '', options.prices) : undefined
    if (price === undefined || price.outputPerMTok === 0) return Number.POSITIVE_INFINITY
    return Math.max(1, Math.floor(usd * 1_000_000 / price.outputPerMTok))
  }

  try {
    const chain = routeChain(provider, options.priority ?? role.priority)
    // A role that names its model tries it first, where its priority's chain starts.
    const first = chain[0]
    if (role.model !== undefined && first !== undefined && first.model !== role.model) chain.unshift({ ...first, model: role.model })
    const cursor: ModelCursor = { chain, index: 0 }
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: options.prompt }]
    const system = systemPrompt(role, options.context)
    for (;;) {
      ensureRoomForAnotherTurn()
      const allowance = await spendable()
      turns++
      const turn = turns
      const requested = cursor.chain[cursor.index]?.model ?? '?'
      emit({ type: 'turn_start', turn, maxTurns: budget.maxTurns, model: requested })
      const maxTokens = Math.min(MAX_OUTPUT_TOKENS_PER_TURN, budget.maxTokens - tokensUsed(), affordableOutput(allowance, requested))
      const chatSpan = startChatSpan(under, requested, maxTokens, { ...traceAttributes, [PEERFLOW_ATTRIBUTES.turn]: turn })
      let answer
      try {
        answer = await callModel({
          provider,
          cursor,
          signal,
          turn,
          emit,
          params: { system, messages, max_tokens: maxTokens, ...(apiTools.length > 0 ? { tools: apiTools } : {}) }
        })
      } catch (err) {
        endWithError(chatSpan, err instanceof ModelCallError ? err.failure.kind : 'aborted', err instanceof Error ? err.message : String(err))
        throw err
      }
      const { message } = answer
      const turnUsage = {
        inputTokens: message.usage.input_tokens + (message.usage.cache_creation_input_tokens ?? 0) + (message.usage.cache_read_input_tokens ?? 0),
        outputTokens: message.usage.output_tokens
      }
      usage.inputTokens += turnUsage.inputTokens
      usage.outputTokens += turnUsage.outputTokens
      const callCostUsd = routedCostUsd(provider, message.model, turnUsage, options.prices)
      costUsd += callCostUsd
      calls.push({ turn, endpoint: answer.endpoint, model: answer.requestedModel, ...turnUsage, costUsd: callCostUsd })
      chatSpan.setAttributes({
        [GEN_AI.requestModel]: answer.requestedModel, [GEN_AI.responseModel]: message.model, [GEN_AI.responseId]: message.id,
        [GEN_AI.finishReasons]: message.stop_reason === null ? [] : [message.stop_reason],
        [GEN_AI.inputTokens]: turnUsage.inputTokens, [GEN_AI.outputTokens]: turnUsage.outputTokens, [PEERFLOW_ATTRIBUTES.costUsd]: callCostUsd
      })
      chatSpan.end()
      model = message.model
      requestedModel = answer.requestedModel
      const replyText = textOf(message)
      if (replyText !== '') text = replyText
      const toolUses = message.content.flatMap((block) => block.type === 'tool_use' ? [block] : [])
      transcript.push({ turn, role: 'assistant', model: message.model, stopReason: message.stop_reason, text: clip(replyText), toolCalls: toolUses.map((use) => use.name) })
      emit({ type: 'turn_end', turn, maxTurns: budget.maxTurns, stopReason: message.stop_reason, usage: { ...usage }, costUsd })

      if (message.stop_reason === 'refusal') throw new ModelStopped('the model declined the request (stop reason: refusal)')
      if (message.stop_reason === 'model_context_window_exceeded') throw new ModelStopped('the conversation no longer fits the model context window')
      // Cut off by the budget rather than finished: report it as such. Cut off by the per-turn cap: keep what we have.
      if (message.stop_reason === 'max_tokens') {
        checkTokens()
        if (maxCostUsd !== undefined && costUsd >= maxCostUsd) throw new BudgetExceeded(`budget exceeded: spend cap $${maxCostUsd.toFixed(4)} (spent $${costUsd.toFixed(4)})`)
      }
      if (message.stop_reason !== 'tool_use') return finish('done')

      // Only spend tool side effects on results the model will get to see.
      ensureRoomForAnotherTurn()
      const results: Anthropic.ToolResultBlockParam[] = []
      for (const use of toolUses) {
        const toolStartedAt = Date.now()
        const toolSpan = startToolSpan(under, use.name, use.id, { ...traceAttributes, [PEERFLOW_ATTRIBUTES.turn]: turn })
        let outcome
        try {
          outcome = await runToolCall(tools, use, { signal, role: role.name, turn })
        } catch (err) {
          endWithError(toolSpan, 'aborted', err instanceof Error ? err.message : String(err))
          throw err
        }
        if (outcome.isError) endWithError(toolSpan, 'tool_error', outcome.text.slice(0, 200))
        else toolSpan.end()
        results.push(outcome.result)
        transcript.push({ turn, role: 'tool', name: use.name, isError: outcome.isError, text: clip(outcome.text) })
        emit({ type: 'tool_call', turn, name: use.name, id: use.id, isError: outcome.isError, durationMs: Date.now() - toolStartedAt })
      }
      messages.push({ role: 'assistant', content: asParams(message.content) }, { role: 'user', content: results })
    }
  } catch (err) {
    if (cancelled()) return finish('cancelled', 'cancelled by caller')
    if (wallClock.signal.aborted) return finish('failed', (wallClock.signal.reason as Error).message, 'budget')
    if (err instanceof BudgetExceeded) return finish('failed', err.message, 'budget')
    if (err instanceof ModelCallError || err instanceof ModelStopped || err instanceof NoRouteError) return finish('failed', err.message)
    return finish('failed', `agent run failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`)
  } finally {
    clearTimeout(wallTimer)
  }
}
