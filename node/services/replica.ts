import type { ValidatedUpdate } from '../../crdt/index.ts'

/** What replication needs from the local replica (crdt's MemoryStore provides it). */
export interface ReplicaStore {
  namespaceNames: () => string[]
  stateVector: (namespace: string) => Uint8Array
  missingUpdates: (namespace: string, remoteStateVector: Uint8Array) => Iterable<Uint8Array>
  applyRemote: (namespace: string, update: Uint8Array | ValidatedUpdate, origin: string) => Promise<void>
  onUpdate: (listener: (namespace: string, update: Uint8Array, origin: string) => void) => () => void
}

/** Counters of both replication services (gossip and catch-up), shared for metrics and the dashboard. */
export interface ReplicationStats {
  gossipSent: number
  gossipReceived: number
  gossipRejected: number
  syncRounds: number
  syncBytesSent: number
  syncBytesReceived: number
}

export function emptyReplicationStats (): ReplicationStats {
  return { gossipSent: 0, gossipReceived: 0, gossipRejected: 0, syncRounds: 0, syncBytesSent: 0, syncBytesReceived: 0 }
}
