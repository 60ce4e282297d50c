import { rawMetrics, type ScaleTestbed } from './scale-testbed.ts'

/**
 * Per-node bytes saved at 30 nodes with 6 swarms of 5, once replication is scoped to a swarm's
 * members. Measuring it needs a per-namespace received-bytes counter on GET /metrics; this looks
 * for that family and says what is missing when the node does not expose it.
 */
export const PER_NAMESPACE_BYTES_FAMILY = 'peerflow_memory_bytes_received_total'

/** Not measured yet, and what measuring needs. */
export interface ScopedSavings { measured: false, needs: string }

export async function scopedReplicationSavings (bed: ScaleTestbed): Promise<ScopedSavings> {
  const probe = bed.running()[0]
  if (probe === undefined) return { measured: false, needs: 'a running node' }
  const text = await rawMetrics(probe)
  if (!text.includes(`# TYPE ${PER_NAMESPACE_BYTES_FAMILY} `)) {
    return {
      measured: false,
      needs: `swarm-scoped replication (swarm/<name>/... namespaces sent only to members) and a counter ${PER_NAMESPACE_BYTES_FAMILY}{namespace} ` +
        'of replicated bytes (gossip and catch-up) each node received per namespace'
    }
  }
  return {
    measured: false,
    needs: `the node exposes ${PER_NAMESPACE_BYTES_FAMILY}; the 6 swarms of 5 workload is still to be written against it`
  }
}
