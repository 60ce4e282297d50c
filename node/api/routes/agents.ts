import { PeerflowError } from '../../../crdt/index.ts'
import type { Route } from '../route.ts'
import type { AgentListReply } from '../types.ts'

/** Agents on this node: running, waiting for a slot, and the latest finished; ephemeral slots with their time left. */
export const agentListRoute: Route = {
  method: 'GET',
  path: '/agents',
  handle: ({ node }): AgentListReply => ({ maxConcurrent: node.config.agents.maxConcurrent, agents: node.tasks.agents(), slots: node.tasks.slots() })
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

/** Spawns an ephemeral agent: a slot for one role in one swarm, for a TTL and a token budget. */
export const agentSpawnRoute: Route = {
  method: 'POST',
  path: '/agents',
  handle: ({ node, body }) => {
    const fields = (body ?? {}) as Record<string, unknown>
    for (const field of ['role', 'swarm'] as const) if (typeof fields[field] !== 'string') throw new PeerflowError('invalid', `${field} must be a string`)
    for (const field of ['ttlMs', 'maxTokens'] as const) if (typeof fields[field] !== 'number') throw new PeerflowError('invalid', `${field} must be a number`)
    return node.tasks.spawnAgent({ role: fields.role as string, swarm: fields.swarm as string, ttlMs: fields.ttlMs as number, maxTokens: fields.maxTokens as number })
  }
}
