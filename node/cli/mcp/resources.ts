import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js'
import type { PeerflowClient } from '../peerflow-client.ts'

/** Read-only views a host can attach as context: memory namespaces and their entries, tasks. */

const RECENT_TASKS = 50

function json (uri: URL, value: unknown): ReadResourceResult {
  return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }] }
}

function variable (value: string | string[] | undefined): string {
  return decodeURIComponent(Array.isArray(value) ? value.join('/') : value ?? '')
}

export function registerResources (server: McpServer, client: PeerflowClient): void {
  server.registerResource('namespaces', 'peerflow://memory', {
    description: 'Memory namespaces: entries, bytes, TTL policy, last update, replicas in sync',
    mimeType: 'application/json'
  }, async (uri) => json(uri, (await client.memory.namespaces()).namespaces))

  server.registerResource('namespace', new ResourceTemplate('peerflow://memory/{namespace}', {
    list: async () => ({
      resources: (await client.memory.namespaces()).namespaces.map((row) => ({
        uri: `peerflow://memory/${encodeURIComponent(row.name)}`, name: row.name, mimeType: 'application/json', description: `${row.entries} entries`
      }))
    })
  }), { description: 'The entries of one memory namespace', mimeType: 'application/json' },
  async (uri, { namespace }) => json(uri, await client.memory.list(variable(namespace))))

  server.registerResource('tasks', 'peerflow://tasks', {
    description: 'Tasks this node knows, newest first',
    mimeType: 'application/json'
  }, async (uri) => json(uri, await client.tasks.list()))

  server.registerResource('task', new ResourceTemplate('peerflow://tasks/{id}', {
    list: async () => ({
      resources: (await client.tasks.list()).slice(0, RECENT_TASKS).map((task) => ({
        uri: `peerflow://tasks/${encodeURIComponent(task.id)}`, name: task.id, mimeType: 'application/json', description: `${task.state}: ${task.prompt.slice(0, 80)}`
      }))
    })
  }), { description: 'One task in full: prompt, attempts, transcript summary, result, cost', mimeType: 'application/json' },
  async (uri, { id }) => json(uri, await client.tasks.show(variable(id))))
}
