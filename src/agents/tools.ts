import type Anthropic from '@anthropic-ai/sdk'
import { z } from 'zod'

/**
 * Tools an agent may call. The runtime knows none of its own: the node injects them (memory read/write,
 * pattern queries) so agents only reach what the node chooses to expose.
 */

export interface ToolContext {
  /** Aborted when the run is cancelled or out of time; long tools should stop early. */
  signal: AbortSignal
  role: string
  turn: number
}

/** The JSON schema of a tool's input, as the Messages API expects it (always an object). */
export interface ToolInputSchema {
  type: 'object'
  properties?: Record<string, unknown>
  required?: string[]
  [keyword: string]: unknown
}

export interface AgentTool {
  name: string
  description: string
  inputSchema: ToolInputSchema
  /** Objects are sent to the model as JSON. A thrown error becomes an error result the model can react to. */
  run (input: unknown, ctx: ToolContext): Promise<string | object>
}

export class ToolInputError extends Error {
  override name = 'ToolInputError'
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/
/** Keeps one oversized tool result from eating the token budget. */
export const MAX_TOOL_RESULT_CHARS = 16_000

export function checkToolName (name: string): void {
  if (!TOOL_NAME.test(name)) throw new Error(`invalid tool name '${name}': use 1-64 letters, digits, '_' or '-'`)
}

export interface ToolDefinition<Schema extends z.ZodObject> {
  name: string
  description: string
  input: Schema
  run (input: z.infer<Schema>, ctx: ToolContext): Promise<string | object>
}

/** Builds a tool from a function and a zod schema: the schema is sent to the model and checked on every call. */
export function defineTool<Schema extends z.ZodObject> (definition: ToolDefinition<Schema>): AgentTool {
  checkToolName(definition.name)
  // The $schema keyword is noise to the model.
  const { $schema: _dialect, ...inputSchema } = z.toJSONSchema(definition.input) as ToolInputSchema
  return {
    name: definition.name,
    description: definition.description,
    inputSchema: { ...inputSchema, type: 'object' },
    async run (input, ctx) {
      const parsed = definition.input.safeParse(input)
      if (!parsed.success) throw new ToolInputError(`invalid input for ${definition.name}:\n${z.prettifyError(parsed.error)}`)
      return await definition.run(parsed.data, ctx)
    }
  }
}

export function toApiTools (tools: readonly AgentTool[]): Anthropic.Tool[] {
  const seen = new Set<string>()
  return tools.map((tool) => {
    checkToolName(tool.name)
    if (seen.has(tool.name)) throw new Error(`duplicate tool name '${tool.name}'`)
    seen.add(tool.name)
    return { name: tool.name, description: tool.description, input_schema: tool.inputSchema }
  })
}

function truncate (text: string): string {
  if (text.length <= MAX_TOOL_RESULT_CHARS) return text
  return `${text.slice(0, MAX_TOOL_RESULT_CHARS)}\n[truncated: ${text.length - MAX_TOOL_RESULT_CHARS} more characters]`
}

function rejectOnAbort (signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

export interface ToolCall { id: string, name: string, input: unknown }
export interface ToolOutcome { result: Anthropic.ToolResultBlockParam, isError: boolean, text: string }

/**
 * Runs one tool_use block. Tool failures are reported back to the model as is_error results; only an abort
 * of the run itself propagates, and it does so even if the tool ignores the signal.
 */
export async function runToolCall (tools: readonly AgentTool[], call: ToolCall, ctx: ToolContext): Promise<ToolOutcome> {
  const tool = tools.find((candidate) => candidate.name === call.name)
  let text: string
  let isError = false
  try {
    if (tool === undefined) throw new Error(`unknown tool '${call.name}'; available: ${tools.map((t) => t.name).join(', ') || 'none'}`)
    const output = await Promise.race([tool.run(call.input, ctx), rejectOnAbort(ctx.signal)])
    text = typeof output === 'string' ? output : JSON.stringify(output)
  } catch (err) {
    if (ctx.signal.aborted) throw err
    isError = true
    text = err instanceof Error ? err.message : String(err)
  }
  text = truncate(text)
  return { result: { type: 'tool_result', tool_use_id: call.id, content: text, is_error: isError }, isError, text }
}
