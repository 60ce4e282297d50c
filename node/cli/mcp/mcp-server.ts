import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { VERSION } from '../../core/version.ts'
import type { PeerflowClient } from '../peerflow-client.ts'
import { registerResources } from './resources.ts'
import { registerTools } from './tools.ts'

/** An MCP server whose tools and resources act on one node through its control API. */
export function createMcpServer (client: PeerflowClient): McpServer {
  const server = new McpServer({ name: 'peerflow', version: VERSION }, {
    instructions: 'peerflow is a peer-to-peer network of agent nodes. Use memory_* for the replicated key-value memory, ' +
      'patterns_* for learned lessons, task_* to hand work to a swarm of agents on other machines (swarm_status names the swarms).'
  })
  registerTools(server, client)
  registerResources(server, client)
  return server
}
