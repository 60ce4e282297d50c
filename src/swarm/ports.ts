import type { RaftMessage } from '../../protocols/raft/messages.ts'
import type { PersistentState } from '../../protocols/raft/state.ts'
import type { SwarmDefinition, SwarmReply, SwarmRequest } from '../../protocols/swarm.ts'

/** Swarm definitions as replicated memory holds them. */
export interface SwarmDefinitionStore {
  get: (name: string) => SwarmDefinition | undefined
  list: () => SwarmDefinition[]
  /** Resolves once the definition is durable locally (replication follows). */
  put: (definition: SwarmDefinition) => Promise<void>
  /** Fires on every change, local or from a peer. */
  onChange: (listener: () => void) => () => void
}

/** Term and vote per swarm: written durably before the messages that depend on them are sent. */
export interface ElectionStateStore {
  load: (swarm: string) => Promise<PersistentState>
  save: (swarm: string, state: PersistentState) => Promise<void>
}

export interface SwarmTransport {
  /** Best effort, never blocks: election messages tolerate loss. */
  sendRaft: (peer: string, swarm: string, message: RaftMessage) => void
  /** A membership request to one member; rejects on timeout or a broken stream. */
  request: (peer: string, request: SwarmRequest) => Promise<SwarmReply>
}
