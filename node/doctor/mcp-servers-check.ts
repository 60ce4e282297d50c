import type { NodeConfig } from '../config/config.ts'
import type { Logger } from '../core/logger.ts'
import { McpConnection } from '../services/mcp-connection.ts'
import { failed, passed, type CheckResult } from './check.ts'

/**
 * Each configured MCP server, started (or reached) on its own the way the node would, asked for its
 * tools, and closed again: one check per server.
 */
export async function checkMcpServers (config: NodeConfig, log: Logger, timeoutMs: number): Promise<CheckResult[]> {
  return await Promise.all(Object.entries(config.mcpServers).map(async ([name, server]) => {
    const check = `MCP server ${name}`
    const connection = new McpConnection(name, server, log)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([connection.start(), new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs) })])
      const status = connection.status()
      if (status.state === 'up') {
        const allowed = Object.entries(config.agents.roles).filter(([, role]) => role.tools.length > 0).map(([role]) => role)
        return passed(check, `${status.target}: ${status.tools.length} tools` + (allowed.length === 0 ? '; no role may use them yet' : `; for ${allowed.join(', ')}`))
      }
      const why = status.state === 'starting' ? `no answer within ${timeoutMs} ms` : status.error ?? status.state
      return failed(check, `${status.target}: ${why}`,
        server.command === undefined ? 'check that the server runs at that url' : 'run that command by hand to see why it does not start, and fix mcpServers in peerflow.json')
    } finally {
      clearTimeout(timer)
      await connection.stop()
    }
  }))
}
