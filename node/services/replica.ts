import type { ValidatedUpdate } from '../../crdt/index.ts'
import type { EpochId, EpochRecord } from '../../crdt/epoch.ts'

/** What replication needs from the local replica (crdt's MemoryStore provides it). */
export interface ReplicaStore {
  namespaceNames: () => string[]
  stateVector: (namespace: string) => Uint8Array
  missingUpdates: (namespace: string, remoteStateVector: Uint8Array) => Iterable<Uint8Array>
  /** Refuses (EpochMismatchError) an update whose `epoch` is not the namespace's current one. */
  applyRemote: (namespace: string, update: Uint8Array | ValidatedUpdate, origin: string, epoch?: EpochId) => Promise<void>
  epochOf: (namespace: string) => EpochRecord
  /** Adopts a newer epoch from its whole state; false when it is not newer than the current one. */
  adoptEpoch: (namespace: string, record: EpochRecord, parts: readonly Uint8Array[], origin: string) => Promise<boolean>
  onUpdate: (listener: (namespace: string, update: Uint8Array, origin: string) => void) => () => void
  /** Defers the replica's compaction until the returned release is called (during an exchange). */
  holdCompaction: () => () => void
}

/** Counters of both replication services (gossip and catch-up), shared for metrics and the dashboard. */
export interface ReplicationStats {
  gossipSent: number
  gossipReceived: number
  gossipRejected: number
  syncRounds: number
  syncBytesSent: number
  syncBytesReceived: number
  /**
   * Bytes of updates received per namespace, by path: gossip messages (as they arrived, sealed or
   * not) and catch-up update frames. A namespace this node does not replicate stays at zero.
   */
  receivedByNamespace: Map<string, NamespaceBytesReceived>
}

export interface NamespaceBytesReceived {
  gossip: number
  sync: number
}

export function emptyReplicationStats (): ReplicationStats {
  return { gossipSent: 0, gossipReceived: 0, gossipRejected: 0, syncRounds: 0, syncBytesSent: 0, syncBytesReceived: 0, receivedByNamespace: new Map() }
}

export function countReceived (stats: ReplicationStats, namespace: string, path: keyof NamespaceBytesReceived, bytes: number): void {
  const counts = stats.receivedByNamespace.get(namespace) ?? { gossip: 0, sync: 0 }
  counts[path] += bytes
  stats.receivedByNamespace.set(namespace, counts)
}
