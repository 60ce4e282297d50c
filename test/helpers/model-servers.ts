import { afterEach } from 'vitest'
import { startAnthropicServer, type AnthropicServer, type AnthropicServerOptions } from '../fixtures/anthropic-server.ts'

/**
 * For a test file: returns a starter of local Anthropic-compatible servers and registers a hook
 * that closes the servers each test started once it ends. Call it at the top level of the file.
 */
export function modelServersPerTest (): (options?: AnthropicServerOptions) => Promise<AnthropicServer> {
  const servers: AnthropicServer[] = []
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(async (server) => { await server.close() }))
  })
  return async (options = {}) => {
    const server = await startAnthropicServer(options)
    servers.push(server)
    return server
  }
}
