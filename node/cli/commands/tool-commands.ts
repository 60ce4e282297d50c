import type { Command } from 'commander'
import type { ToolCatalog } from '../../api/types.ts'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import { printJson } from '../output.ts'

function schemaLine (schema: { properties?: Record<string, unknown>, required?: string[] }): string {
  const required = new Set(schema.required ?? [])
  const fields = Object.keys(schema.properties ?? {}).map((field) => required.has(field) ? field : `${field}?`)
  return `(${fields.join(', ')})`
}

function rolesLine (roles: string[], all: number): string {
  if (roles.length === 0) return 'no role (add a pattern to agents.<role>.tools)'
  return roles.length === all ? 'every role' : roles.join(', ')
}

/** `peerflow tools …`: the tools this node's agents may call. */
export function registerToolCommands (program: Command): void {
  const tools = program.command('tools').description("tools this node's agents may call: built-in and from MCP servers")

  withApi(tools.command('list').description('every tool by server, with its input fields and the roles that may call it'))
    .action(async (options: ReadOptions) => {
      const catalog = await clientFor(options).tools()
      if (options.json === true) return printJson(catalog)
      const roleCount = catalog.roles.length
      const lines = ['built-in:']
      for (const tool of catalog.builtIn) lines.push(`  ${tool.name}${schemaLine(tool.inputSchema)}  — ${rolesLine(tool.roles, roleCount)}`)
      lines.push('workspace (each attempt\'s own directory; list/read/grep/diff come with every task that has files):')
      for (const tool of catalog.workspace) lines.push(`  ${tool.name}${schemaLine(tool.inputSchema)}  — ${rolesLine(tool.roles, roleCount)}`)
      for (const server of catalog.servers) {
        lines.push(`${server.name} (${server.transport} ${server.target}): ${server.state}${server.error === null ? '' : ` — ${server.error}`}`)
        if (server.tools.length === 0) lines.push('  no tools listed yet')
        for (const tool of server.tools) lines.push(`  ${tool.name}${schemaLine(tool.inputSchema)}  — ${rolesLine(tool.roles, roleCount)}`)
      }
      if (catalog.servers.length === 0) lines.push('no MCP servers configured (mcpServers in peerflow.json)')
      process.stdout.write(`${lines.join('\n')}\n`)
    })
}
