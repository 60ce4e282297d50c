import type { Route } from '../route.ts'
import type { AgentListReply } from '../types.ts'

/** Agents on this node: running, waiting for a slot, and the latest finished. */
export const agentListRoute: Route = {
  method: 'GET',
  path: '/agents',
  handle: ({ node }): AgentListReply => ({ maxConcurrent: node.config.agents.maxConcurrent, agents: node.tasks.agents() })
}

/** Every role this node can run and where it came from, after reading `<data>/agents/` again; files that did not load, with path and line. */
export const agentRolesRoute: Route = {
  method: 'GET',
  path: '/agents/roles',
  handle: async ({ node }) => {
    await node.roles.reload()
    return { roles: node.roles.list(), problems: node.roles.problems() }
  }
}

/** Shares one of this node's role files with every member through replicated memory. */
export const agentRoleShareRoute: Route = {
  method: 'POST',
  path: '/agents/roles/:name/share',
  handle: async ({ node, params }) => {
    await node.roles.reload()
    return await node.roles.share(params.name as string)
  }
}
