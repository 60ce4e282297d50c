import { checkToolName, type AgentTool, type ToolContext, type ToolInputSchema } from './tools.ts'

/**
 * Tools that live outside the node (an MCP server's), as agents see them: `<server>__<tool>`, with
 * the server's own description and input schema, and calls that go through `call`.
 */

export const REMOTE_TOOL_SEPARATOR = '__'
const MAX_NAME = 64

/** The agent-facing name: characters the Messages API refuses become '_', and it is cut to 64. */
export function remoteToolName (server: string, tool: string): string {
  return `${server}${REMOTE_TOOL_SEPARATOR}${tool.replace(/[^a-zA-Z0-9_-]/g, '_')}`.slice(0, MAX_NAME)
}

export interface RemoteToolDescription {
  name: string
  description?: string
  inputSchema: { type: 'object', [keyword: string]: unknown }
}

/** Runs one call on the server under its own tool name; rejects with a message the model can act on. */
export type RemoteCall = (tool: string, input: Record<string, unknown>, ctx: ToolContext) => Promise<string>

export function remoteTool (server: string, description: RemoteToolDescription, call: RemoteCall): AgentTool {
  const name = remoteToolName(server, description.name)
  checkToolName(name)
  return {
    name,
    description: `${description.description ?? description.name} (tool '${description.name}' of the MCP server '${server}')`,
    inputSchema: description.inputSchema as ToolInputSchema,
    async run (input, ctx) {
      const args = input !== null && typeof input === 'object' && !Array.isArray(input) ? input as Record<string, unknown> : {}
      return await call(description.name, args, ctx)
    }
  }
}
