import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api'

/**
 * OpenTelemetry spans for agent runs, model calls and tool calls, named and attributed after the
 * GenAI semantic conventions (invoke_agent, chat, execute_tool). Through @opentelemetry/api only:
 * without a registered tracer provider (the default) every span is a no-op.
 */

export const GEN_AI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  agentName: 'gen_ai.agent.name',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolType: 'gen_ai.tool.type'
} as const

/** peerflow's own attributes on those spans (not part of the conventions). */
export const PEERFLOW_ATTRIBUTES = {
  costUsd: 'peerflow.cost_usd',
  taskId: 'peerflow.task.id',
  swarm: 'peerflow.swarm',
  turn: 'peerflow.agent.turn'
} as const

const PROVIDER = 'anthropic'

export function tracer (): ReturnType<typeof trace.getTracer> {
  return trace.getTracer('peerflow')
}

/** The span of one agent run; the model and tool spans of the run are its children (`under`). */
export function startAgentSpan (role: string, attributes: Attributes): { span: Span, under: Context } {
  const span = tracer().startSpan(`invoke_agent ${role}`, {
    kind: SpanKind.INTERNAL,
    attributes: { [GEN_AI.operation]: 'invoke_agent', [GEN_AI.provider]: PROVIDER, [GEN_AI.agentName]: role, ...attributes }
  })
  return { span, under: trace.setSpan(context.active(), span) }
}

export function startChatSpan (under: Context, model: string, maxTokens: number, attributes: Attributes): Span {
  return tracer().startSpan(`chat ${model}`, {
    kind: SpanKind.CLIENT,
    attributes: { [GEN_AI.operation]: 'chat', [GEN_AI.provider]: PROVIDER, [GEN_AI.requestModel]: model, [GEN_AI.requestMaxTokens]: maxTokens, ...attributes }
  }, under)
}

export function startToolSpan (under: Context, name: string, callId: string, attributes: Attributes): Span {
  return tracer().startSpan(`execute_tool ${name}`, {
    kind: SpanKind.INTERNAL,
    attributes: { [GEN_AI.operation]: 'execute_tool', [GEN_AI.toolName]: name, [GEN_AI.toolCallId]: callId, [GEN_AI.toolType]: 'function', ...attributes }
  }, under)
}

/** Ends a span as failed: the conventions' `error.type` plus an error status with the message. */
export function endWithError (span: Span, type: string, message: string): void {
  span.setAttribute('error.type', type)
  span.setStatus({ code: SpanStatusCode.ERROR, message })
  span.end()
}
