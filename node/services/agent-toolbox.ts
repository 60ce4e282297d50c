import { remoteToolName, rolesAllowed, ROLE_NAMES, toolsAllowed, type AgentTool, type ToolInputSchema } from '../../src/agents/index.ts'
import type { McpServerStatus } from './mcp-connection.ts'
import type { McpServers } from './mcp-servers.ts'

/**
 * What tools this node's agents get: the built-in ones for every role, and each MCP server's for
 * the roles whose `agents.<role>.tools` patterns name them (none by default).
 */

export interface ToolEntry {
  /** The name agents call it by. */
  name: string
  description: string
  inputSchema: ToolInputSchema
  /** Roles that may call it. */
  roles: string[]
}

/** A configured MCP server as `tools list` shows it: its status, with its tools as agents see them. */
export type ToolServerEntry = Omit<McpServerStatus, 'since' | 'tools'> & { tools: Array<ToolEntry & { tool: string }> }

/** The reply of GET /tools, printed by `peerflow tools list`. */
export interface ToolCatalog {
  /** Every role this node knows and the tool patterns configured for it. */
  roles: Array<{ role: string, patterns: string[] }>
  builtIn: ToolEntry[]
  /** Tools over each attempt's own directory; list/read/grep/diff also come with every task that has files. */
  workspace: ToolEntry[]
  servers: ToolServerEntry[]
}

export class AgentToolbox {
  readonly #builtIn: readonly AgentTool[]
  readonly #mcp: McpServers
  readonly #patternsByRole: () => Readonly<Record<string, readonly string[]>>
  readonly #workspace: readonly AgentTool[]

  /**
   * `patternsByRole`: the tool patterns of every role that has any (read on each use: role files
   * can be reloaded). `workspace`: the workspace tools as described to agents (each attempt gets
   * its own instances).
   */
  constructor (builtIn: readonly AgentTool[], mcp: McpServers, patternsByRole: () => Readonly<Record<string, readonly string[]>>, workspace: readonly AgentTool[] = []) {
    this.#builtIn = builtIn
    this.#mcp = mcp
    this.#patternsByRole = patternsByRole
    this.#workspace = workspace
  }

  get #patterns (): Readonly<Record<string, readonly string[]>> {
    return this.#patternsByRole()
  }

  get builtIn (): readonly AgentTool[] {
    return this.#builtIn
  }

  /** The tool patterns configured for `role` (none by default). */
  patternsFor (role: string): readonly string[] {
    return this.#patterns[role] ?? []
  }

  /** The optional tools `role` may call. */
  forRole (role: string): AgentTool[] {
    return toolsAllowed(this.#mcp.tools(), this.#patterns[role] ?? [])
  }

  catalog (): ToolCatalog {
    const roleNames = [...new Set([...ROLE_NAMES, ...Object.keys(this.#patterns)])].sort()
    const patterns = Object.fromEntries(roleNames.map((role) => [role, this.#patterns[role] ?? []]))
    const exposed = new Map(this.#mcp.tools().map((tool) => [tool.name, tool]))
    return {
      roles: roleNames.map((role) => ({ role, patterns: [...(patterns[role] ?? [])] })),
      builtIn: this.#builtIn.map((tool) => ({ name: tool.name, description: tool.description, inputSchema: tool.inputSchema, roles: roleNames })),
      workspace: this.#workspace.map((tool) => ({ name: tool.name, description: tool.description, inputSchema: tool.inputSchema, roles: rolesAllowed(tool.name, patterns) })),
      servers: this.#mcp.status().map((server) => ({
        name: server.name,
        transport: server.transport,
        target: server.target,
        state: server.state,
        error: server.error,
        restarts: server.restarts,
        tools: server.tools.flatMap((original) => {
          const tool = exposed.get(remoteToolName(server.name, original.name))
          if (tool === undefined) return []
          return [{ name: tool.name, tool: original.name, description: tool.description, inputSchema: tool.inputSchema, roles: rolesAllowed(tool.name, patterns) }]
        })
      }))
    }
  }
}
