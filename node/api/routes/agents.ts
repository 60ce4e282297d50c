import type { Route } from '../route.ts'
import type { AgentListReply } from '../types.ts'

/** Agents on this node: running, waiting for a slot, and the latest finished. */
export const agentListRoute: Route = {
  method: 'GET',
  path: '/agents',
  handle: ({ node }): AgentListReply => ({ maxConcurrent: node.config.agents.maxConcurrent, agents: node.tasks.agents() })
}
