import { PeerflowError } from '../../../crdt/index.ts'
import { TOPOLOGIES, type Topology } from '../../../protocols/swarm.ts'
import { SwarmError } from '../../../src/swarm/swarm-service.ts'
import { requireString, type Route } from '../route.ts'
import type { SwarmEventsReply, SwarmListReply, SwarmStatus } from '../types.ts'

function rolesOf (body: unknown): string[] {
  const roles = (body as { roles?: unknown } | null)?.roles ?? []
  if (!Array.isArray(roles) || roles.some((role) => typeof role !== 'string')) throw new PeerflowError('invalid', 'roles must be an array of strings')
  return roles as string[]
}

export const swarmListRoute: Route = {
  method: 'GET',
  path: '/swarms',
  handle: ({ node }): SwarmListReply => ({ swarms: node.swarms.list() })
}

export const swarmInitRoute: Route = {
  method: 'POST',
  path: '/swarms',
  handle: async ({ node, body }): Promise<SwarmStatus> => {
    const name = requireString(body, 'name')
    const fields = body as { topology?: unknown, maxAgents?: unknown, voters?: unknown }
    const topology = (fields.topology ?? 'hierarchical') as Topology
    if (!TOPOLOGIES.includes(topology)) throw new PeerflowError('invalid', `unknown topology '${String(topology)}' (one of ${TOPOLOGIES.join(', ')})`)
    const maxAgents = fields.maxAgents ?? 8
    if (typeof maxAgents !== 'number' || !Number.isInteger(maxAgents) || maxAgents < 1 || maxAgents > 1000) throw new PeerflowError('invalid', 'maxAgents must be an integer from 1 to 1000')
    if (fields.voters !== undefined && typeof fields.voters !== 'number') throw new PeerflowError('invalid', 'voters must be an integer')
    await node.swarms.init(name, topology, maxAgents, rolesOf(body), fields.voters as number | undefined)
    return node.swarms.status(name)
  }
}

export const swarmStatusRoute: Route = {
  method: 'GET',
  path: '/swarms/:name',
  handle: async ({ node, params }): Promise<SwarmStatus> => node.swarms.status(params.name as string)
}

export const swarmJoinRoute: Route = {
  method: 'POST',
  path: '/swarms/:name/join',
  handle: async ({ node, params, body }): Promise<SwarmStatus> => {
    await node.swarms.join(params.name as string, rolesOf(body))
    return node.swarms.status(params.name as string)
  }
}

export const swarmLeaveRoute: Route = {
  method: 'POST',
  path: '/swarms/:name/leave',
  handle: async ({ node, params }): Promise<SwarmStatus> => {
    await node.swarms.leave(params.name as string)
    return node.swarms.status(params.name as string)
  }
}

export const swarmEventsRoute: Route = {
  method: 'GET',
  path: '/swarms/:name/events',
  handle: async ({ node, params, query }): Promise<SwarmEventsReply> => {
    node.swarms.status(params.name as string)
    return { events: node.swarms.events.since(Number(query.get('after') ?? 0), params.name) }
  }
}
