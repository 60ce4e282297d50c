import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { API_TOKEN_FILE } from '../../api/api-token.ts'
import { defaultDataDir } from '../../config/data-dir.ts'
import { DEFAULT_API, CliError } from '../client.ts'
import { PeerflowClient } from '../peerflow-client.ts'

interface McpFlags {
  api?: string
  token?: string
  http?: string
  httpToken?: string
  data?: string
}

/**
 * The token HTTP clients must present: --http-token, PEERFLOW_MCP_TOKEN, else the node's own API
 * token (--token, PEERFLOW_API_TOKEN, or api.token in the data dir). None at all is an error, never
 * an open server.
 */
async function httpToken (flags: McpFlags): Promise<string> {
  const given = flags.httpToken ?? process.env.PEERFLOW_MCP_TOKEN ?? flags.token ?? process.env.PEERFLOW_API_TOKEN
  if (given !== undefined && given.trim() !== '') return given.trim()
  const file = join(flags.data ?? process.env.PEERFLOW_DATA ?? defaultDataDir(), API_TOKEN_FILE)
  try {
    const token = (await readFile(file, 'utf8')).trim()
    if (token !== '') return token
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`cannot read ${file}: ${(err as Error).message}`)
  }
  throw new CliError(`--http needs a bearer token for its clients: pass --http-token (or env PEERFLOW_MCP_TOKEN), or --token, or --data with an ${API_TOKEN_FILE}`, 2)
}

/** `peerflow mcp`: an MCP server (stdio, or Streamable HTTP with --http) over the node's control API. */
export function registerMcpCommand (program: Command): void {
  program.command('mcp')
    .description('serve the node to MCP hosts (Claude Code, ...): stdio by default, Streamable HTTP with --http')
    .option('--api <host:port>', `control API of the node to act on (env PEERFLOW_API, default ${DEFAULT_API})`)
    .option('--token <token>', 'bearer token of a control API bound beyond loopback (env PEERFLOW_API_TOKEN)')
    .option('--http <host:port>', 'serve MCP over Streamable HTTP at http://host:port/mcp instead of stdio')
    .option('--http-token <token>', "token HTTP clients must send as 'Authorization: Bearer' (env PEERFLOW_MCP_TOKEN; default: the node's API token)")
    .option('--data <dir>', "data dir whose api.token --http uses when no token is given (env PEERFLOW_DATA, default ~/.peerflow)")
    .action(async (flags: McpFlags) => {
      const client = new PeerflowClient(flags.api, { token: flags.token ?? process.env.PEERFLOW_API_TOKEN })
      if (flags.http !== undefined) {
        const token = await httpToken(flags)
        const { serveMcpOverHttp } = await import('./http-server.ts')
        const server = await serveMcpOverHttp(client, { listen: flags.http, token })
        process.stderr.write(`peerflow MCP server at ${server.url} (bearer token required), acting on the node at ${client.address}\n`)
        const stop = (): void => { void server.close().then(() => process.exit(0)) }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        return
      }
      const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js')
      const { createMcpServer } = await import('./mcp-server.ts')
      await createMcpServer(client).connect(new StdioServerTransport())
      process.stderr.write(`peerflow MCP server on stdio, acting on the node at ${client.address}\n`)
    })
}
