/**
 * The control API's requests and replies: the one definition the routes, the CLI, the MCP server
 * and the typed client all use. Types only, so importing this file loads nothing at run time.
 */
import type { Entry, JsonValue } from '../../crdt/index.ts'
import type { FileRef } from '../../protocols/blob.ts'
import type { Topology } from '../../protocols/swarm.ts'
import type { RoutePriority } from '../../src/agents/index.ts'
import type { BankStats, ConsolidationResult, ListSort, PatternInfo, QueryMatch } from '../../src/reasoningbank/index.ts'
import type { SwarmEvent } from '../../src/swarm/swarm-events.ts'
import type { SwarmStatus } from '../../src/swarm/swarm-service.ts'
import type { AgentInfo } from '../../src/swarm/tasks/local-agents.ts'
import type { SlotInfo } from '../../src/swarm/tasks/ephemeral-slots.ts'
import type { TaskBudget } from '../../src/swarm/tasks/records.ts'
import type { TaskReport, TaskSummary } from '../../src/swarm/tasks/task-report.ts'
import type { LoopRequest } from '../../src/swarm/tasks/task-service.ts'
import type { TaskState } from '../../src/swarm/tasks/task-view.ts'
import type { AdmissionMode, Refusal } from '../admission/admission.ts'
import type { RoleFileProblem, RoleListing } from '../stores/user-roles.ts'
import type { NodeStatus, PeerInfo } from '../core/peerflow-node.ts'
import type { Overview } from './dashboard/overview.ts'

export type {
  AgentInfo, BankStats, ConsolidationResult, Entry, JsonValue, ListSort, NodeStatus, Overview, PatternInfo, PeerInfo, QueryMatch,
  Refusal, SwarmEvent, SwarmStatus, TaskReport, TaskState, TaskSummary, Topology
}

// node

export interface IdReply { peerId: string, addresses: string[] }
export type StatusReply = NodeStatus
export interface PeersReply { peers: PeerInfo[], refused: Refusal[], admission: AdmissionMode }
export interface JoinRequest { multiaddr: string }
export type JoinReply = PeerInfo
export interface PeerIdRequest { peerId: string }
export interface LeaveReply { peerId: string, disconnected: boolean }
export interface BlockReply { peerId: string, blocked: true }
export interface UnblockReply { peerId: string, unblocked: boolean }
export interface BlockListReply { blocked: Array<{ peerId: string, since: number }> }
export interface AllowReply { peerId: string, allowed: true, allowlist: string[] }
export interface DisallowReply { peerId: string, removed: boolean }
export interface AllowListReply { allowlist: string[] }

// memory

export interface NamespaceRow {
  name: string
  entries: number
  bytes: number
  defaultTtlMs: number | undefined
  maxEntries: number
  maxBytes: number
  lastUpdate: number | null
  replicasInSync: number
  peers: number
}
export interface NamespacesReply { namespaces: NamespaceRow[] }
export interface MemoryStoreRequest { key: string, value: JsonValue, ttlMs?: number, tags?: string[] }
/** POST /memory/:namespace/batch: all of them are written, or none. */
export interface MemoryBatchRequest { entries: MemoryStoreRequest[] }
/** The most entries one batch write takes; the request body cap also bounds it. */
export const MAX_BATCH_ENTRIES = 1_000
export interface EntryReply { entry: Entry }
export interface MemoryListReply { namespace: string, entries: Entry[] }
export interface MemoryBatchReply { entries: Entry[] }
export interface MemoryDeleteReply { deleted: boolean }

// swarms

export interface SwarmInitRequest { name: string, topology?: Topology, maxAgents?: number, roles?: string[], voters?: number }
export interface SwarmJoinRequest { roles?: string[] }
export interface SwarmListReply { swarms: SwarmStatus[] }
export interface SwarmEventsReply { events: Array<SwarmEvent & { seq: number }> }

// patterns

export interface PatternStoreRequest { name: string, content: string, namespace: string, confidence?: number, metadata?: Record<string, unknown> }
export interface PatternReply { pattern: PatternInfo }
export interface PatternQueryRequest { text: string, namespace?: string, minConfidence?: number, limit?: number, explain?: boolean }
export interface PatternQueryReply { matches: QueryMatch[], embedder: string, tookMs: number }
export interface PatternListQuery { namespace?: string, sort?: ListSort, limit?: number }
export interface PatternListReply { patterns: PatternInfo[] }
export interface PatternOutcomeRequest { names: string[], success: boolean }
export interface PatternOutcomeReply { patterns: PatternInfo[] }
export interface PatternForgetReply { forgotten: boolean }
export interface PatternConsolidateRequest { dryRun?: boolean }
export type PatternStatsReply = BankStats
export type PatternConsolidateReply = ConsolidationResult

// tasks and agents

export interface TaskSubmitRequest {
  swarm: string
  prompt: string
  /** One role (single stage), or `stages` for a multi-stage task. */
  role?: string
  stages?: string[]
  maxAttempts?: number
  budget?: Partial<TaskBudget>
  /** Attached files, uploaded first (PUT /blobs): name, SHA-256 and size each. */
  files?: FileRef[]
  /** Makes it a loop task (single stage): the prompt runs again each iteration with the last checkpoint. */
  loop?: LoopRequest
  /** Wait in `input-required` for an approval before starting. */
  approve?: boolean
  /** Stages (0-based, after the first) that wait for an approval of the previous stage's output. */
  approveStages?: number[]
  /** Ids of tasks that must be done first. */
  after?: string[]
  /** Model priority for every stage, over the roles' own. */
  priority?: RoutePriority
}
export type { LoopReport } from '../../src/swarm/tasks/task-report.ts'
export type { SlotInfo } from '../../src/swarm/tasks/ephemeral-slots.ts'
export type { BudgetReport } from '../../src/swarm/tasks/spend-caps.ts'
export interface AgentSpawnRequest { role: string, swarm: string, ttlMs: number, maxTokens: number }
/** `dailyUsd: null` lifts the cap. */
export type BudgetSetRequest = ({ scope: 'network' } | { scope: 'swarm', swarm: string }) & { dailyUsd: number | null }
export interface TaskDecisionRequest { note: string | null }
export interface TaskListQuery { swarm?: string, state?: TaskState }
export interface TaskListReply { tasks: TaskSummary[] }
export interface AgentListReply { maxConcurrent: number, agents: AgentInfo[], slots: SlotInfo[] }
export type { RoleFileProblem, RoleListing } from '../stores/user-roles.ts'
export interface AgentRolesReply { roles: RoleListing[], problems: RoleFileProblem[] }
export type { ToolCatalog } from '../services/agent-toolbox.ts'
export type { ModelsReport } from './routes/models.ts'

/** The body of every error reply; the HTTP status says its kind (see error-status.ts). */
export interface ErrorReply { error: string }
