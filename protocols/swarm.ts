import { z } from 'zod'

/**
 * Swarms: definitions (replicated in memory) and the membership requests members send to the
 * swarm's leader over `/peerflow/swarm/1.0.0`. Election traffic has its own protocol (raft).
 */
export const SWARM_LIMITS = {
  maxFrameBytes: 64 * 1024,
  readTimeoutMs: 5_000,
  /** Raft-style quorums get slow and fragile past this many voters. */
  maxVoters: 7,
  maxMembers: 64,
  /** Concurrent membership requests per connection. */
  maxStreams: 8
} as const

export const SWARM_NAME = /^[a-z0-9][a-z0-9_-]{0,47}$/
export const TOPOLOGIES = ['hierarchical', 'mesh', 'ring', 'adaptive'] as const
export type Topology = typeof TOPOLOGIES[number]

export const SwarmDefinition = z.object({
  name: z.string().regex(SWARM_NAME),
  topology: z.enum(TOPOLOGIES),
  maxAgents: z.number().int().min(1).max(1000),
  /**
   * How many of the first members vote (1..maxVoters; absent means maxVoters). The rest are
   * non-voting workers: they follow the leader and take tasks, but quorums stay small.
   */
  voters: z.number().int().min(1).max(SWARM_LIMITS.maxVoters).optional(),
  /** Every member, in join order; the first `voters` vote in elections. */
  members: z.array(z.string().min(1).max(128)).min(1).max(SWARM_LIMITS.maxMembers),
  /** Agent roles each member offers. */
  roles: z.record(z.string(), z.array(z.string().max(64)).max(32)),
  createdBy: z.string(),
  createdAt: z.number(),
  /** Bumped by the leader on every membership change. */
  version: z.number().int().min(1)
})
export type SwarmDefinition = z.infer<typeof SwarmDefinition>

export function votersOf (definition: SwarmDefinition): string[] {
  return definition.members.slice(0, definition.voters ?? SWARM_LIMITS.maxVoters)
}

/** The members past the voters: non-voting workers. */
export function workersOf (definition: SwarmDefinition): string[] {
  return definition.members.slice(definition.voters ?? SWARM_LIMITS.maxVoters)
}

export const SwarmRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('join'), swarm: z.string().regex(SWARM_NAME), roles: z.array(z.string().max(64)).max(32) }),
  z.object({ type: z.literal('leave'), swarm: z.string().regex(SWARM_NAME) })
])
export type SwarmRequest = z.infer<typeof SwarmRequest>

export const SwarmReply = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ok'), term: z.number().int().min(0), definition: SwarmDefinition }),
  /** Sent by a member that is not the leader; `leader` is who it believes leads, if anyone. */
  z.object({ type: z.literal('not-leader'), leader: z.string().nullable() }),
  z.object({ type: z.literal('error'), message: z.string().max(500) })
])
export type SwarmReply = z.infer<typeof SwarmReply>
