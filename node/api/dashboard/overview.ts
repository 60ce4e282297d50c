import type { PeerflowNode, PeerInfo } from '../../core/peerflow-node.ts'
import type { BankStats } from '../../../src/reasoningbank/reasoning-bank.ts'
import type { SwarmStatus } from '../../../src/swarm/swarm-service.ts'

/**
 * Everything the dashboard and `peerflow status --watch` show, as one JSON document: sent on each
 * server-sent event and served at GET /overview.
 */

/** The fields of a task the overview shows (what the task layer's `list()` returns per task). */
export interface TaskRow {
  id: string
  state: string
  swarm: string
  role: string
  assignee: string | null
  attempts: number
  submittedAt: number
  finishedAt: number | null
  error: string | null
  prompt: string
}

/** Today's spend against the caps, per swarm and for the network. */
export interface SpendRow {
  name: string
  spentUsd: number
  effectiveCapUsd: number | null
}

/** The part of a task layer the overview reads; a node built without one has no `tasks`. */
interface TaskListing {
  list: () => TaskRow[]
  budget?: () => { day: string, network: { capUsd: number | null, spentUsd: number }, swarms: SpendRow[] }
}

export interface ThroughputBucket {
  /** Start of the bucket, ms since the epoch. */
  start: number
  done: number
  failed: number
  /** Mean submit-to-finish time of the tasks done in the bucket. */
  meanLatencyMs: number | null
}

export interface TaskOverview {
  counts: Record<string, number>
  /** The most recently submitted tasks, newest first. */
  recent: TaskRow[]
  /** Every task waiting in input-required for an approval decision, oldest first. */
  approvals: TaskRow[]
  /** Spend today (UTC) against the daily caps. */
  spend: { day: string, network: { capUsd: number | null, spentUsd: number }, swarms: SpendRow[] } | null
  throughput: ThroughputBucket[]
}

export interface Overview {
  at: number
  node: { peerId: string, version: string, startedAt: number, api: string, admission: string, listen: string[] }
  peers: PeerInfo[]
  swarms: SwarmStatus[]
  memory: Array<{ name: string, entries: number, bytes: number, lastUpdate: number | null }>
  /** null until the ReasoningBank has opened. */
  patterns: BankStats | null
  /** null when this node has no task layer. */
  tasks: TaskOverview | null
  /** Running totals of memory gossip messages: readers derive rates from successive overviews. */
  gossip: { sent: number, received: number, rejected: number }
}

export const RECENT_TASKS = 15
export const THROUGHPUT_BUCKET_MS = 10_000
export const THROUGHPUT_BUCKETS = 30

export function taskLayerOf (node: object): TaskListing | undefined {
  const tasks = (node as { tasks?: Partial<TaskListing> }).tasks
  return typeof tasks?.list === 'function' ? tasks as TaskListing : undefined
}

/** Finished tasks per bucket over the last THROUGHPUT_BUCKETS buckets, oldest first. */
export function throughputOf (tasks: TaskRow[], now: number): ThroughputBucket[] {
  const firstStart = (Math.floor(now / THROUGHPUT_BUCKET_MS) - THROUGHPUT_BUCKETS + 1) * THROUGHPUT_BUCKET_MS
  const buckets = Array.from({ length: THROUGHPUT_BUCKETS }, (_, i) => ({ start: firstStart + i * THROUGHPUT_BUCKET_MS, done: 0, failed: 0, latencyTotal: 0 }))
  for (const task of tasks) {
    if (task.finishedAt === null || task.finishedAt < firstStart) continue
    const bucket = buckets[Math.min(THROUGHPUT_BUCKETS - 1, Math.floor((task.finishedAt - firstStart) / THROUGHPUT_BUCKET_MS))]
    if (bucket === undefined) continue
    if (task.state === 'done') {
      bucket.done++
      bucket.latencyTotal += task.finishedAt - task.submittedAt
    } else if (task.state === 'failed') {
      bucket.failed++
    }
  }
  return buckets.map(({ start, done, failed, latencyTotal }) => ({ start, done, failed, meanLatencyMs: done === 0 ? null : Math.round(latencyTotal / done) }))
}

function taskOverview (listing: TaskListing, now: number): TaskOverview {
  const tasks = listing.list()
  const counts: Record<string, number> = {}
  for (const task of tasks) counts[task.state] = (counts[task.state] ?? 0) + 1
  const recent = [...tasks].sort((a, b) => b.submittedAt - a.submittedAt).slice(0, RECENT_TASKS)
  const approvals = tasks.filter((task) => task.state === 'input-required').sort((a, b) => a.submittedAt - b.submittedAt)
  const budget = listing.budget?.()
  const spend = budget === undefined
    ? null
    : { day: budget.day, network: budget.network, swarms: budget.swarms.map(({ name, spentUsd, effectiveCapUsd }) => ({ name, spentUsd, effectiveCapUsd })) }
  return { counts, recent, approvals, spend, throughput: throughputOf(tasks, now) }
}

function patternsOf (node: PeerflowNode): BankStats | null {
  try {
    return node.patterns.stats()
  } catch {
    // Not open yet: the control API answers before the ReasoningBank has loaded its index.
    return null
  }
}

export function buildOverview (node: PeerflowNode, now = Date.now()): Overview {
  const status = node.status()
  const listing = taskLayerOf(node)
  const { gossipSent, gossipReceived, gossipRejected } = node.replication.stats
  return {
    at: now,
    node: { peerId: status.peerId, version: status.version, startedAt: status.startedAt, api: status.api, admission: status.admission, listen: status.listen },
    peers: node.peers(),
    swarms: node.swarms.list(),
    memory: node.memory.namespaces().map((info) => ({ name: info.name, entries: info.entries, bytes: info.bytes, lastUpdate: info.lastUpdate ?? null })),
    patterns: patternsOf(node),
    tasks: listing === undefined ? null : taskOverview(listing, now),
    gossip: { sent: gossipSent, received: gossipReceived, rejected: gossipRejected }
  }
}
