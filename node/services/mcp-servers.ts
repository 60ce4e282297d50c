import { remoteTool, type AgentTool } from '../../src/agents/index.ts'
import type { McpServerConfig } from '../config/config.ts'
import type { Logger } from '../core/logger.ts'
import { FIRST_RETRY_MS, McpConnection, type McpServerStatus } from './mcp-connection.ts'

/**
 * The node as an MCP client: every server of `mcpServers`, started with the node and stopped with
 * it, and their tools as agents see them (`<server>__<tool>`). Which role may call which of them is
 * decided elsewhere (`agents.<role>.tools`); this only knows what exists.
 */
export class McpServers {
  readonly #connections: McpConnection[]
  #tools: AgentTool[] = []
  readonly #log: Logger

  /** `firstRetryMs`: the first pause before restarting a server that went down (it doubles up to 30 s). */
  constructor (servers: Readonly<Record<string, McpServerConfig>>, log: Logger, firstRetryMs = FIRST_RETRY_MS) {
    this.#log = log.child({ component: 'mcp' })
    this.#connections = Object.entries(servers).map(([name, config]) => new McpConnection(name, config, this.#log, () => { this.#rebuild() }, firstRetryMs))
  }

  /** Starts every server without waiting for any: a slow or broken one must not hold the node up. */
  start (): void {
    for (const connection of this.#connections) void connection.start()
  }

  async stop (): Promise<void> {
    await Promise.all(this.#connections.map(async (connection) => { await connection.stop() }))
  }

  status (): McpServerStatus[] {
    return this.#connections.map((connection) => connection.status())
  }

  /** Every server's tools under their agent-facing names (a server that is down keeps its last list). */
  tools (): AgentTool[] {
    return this.#tools
  }

  #rebuild (): void {
    const tools: AgentTool[] = []
    const names = new Set<string>()
    for (const connection of this.#connections) {
      for (const tool of connection.status().tools) {
        let agentTool: AgentTool
        try {
          agentTool = remoteTool(connection.name, { ...tool, inputSchema: { ...tool.inputSchema, type: 'object' } }, async (name, args, ctx) => connection.call(name, args, ctx))
        } catch (err) {
          this.#log.warn({ server: connection.name, tool: tool.name, err: (err as Error).message }, 'MCP tool not exposed')
          continue
        }
        // Two names can meet once shortened or cleaned up for the Messages API: the first one wins.
        if (names.has(agentTool.name)) {
          this.#log.warn({ server: connection.name, tool: tool.name, as: agentTool.name }, 'MCP tool not exposed: its agent-facing name is taken')
          continue
        }
        names.add(agentTool.name)
        tools.push(agentTool)
      }
    }
    this.#tools = tools
  }
}
