import type { JsonValue } from '../../../crdt/index.ts'
import type { SwarmDefinition } from '../../../protocols/swarm.ts'
import type { StoredRecord } from './record-index.ts'
import type { FileRef } from '../../../protocols/blob.ts'
import type { AgentTool } from '../../agents/index.ts'
import type { TaskSpec } from './records.ts'

/** What the task layer needs from the node, as narrow interfaces (the node wires the real parts). */

/** The replicated `tasks` namespace. */
export interface TaskStore {
  /** Live entries, optionally only keys starting with `prefix`. */
  list: (prefix?: string) => StoredRecord[]
  /** Resolves once the write is durable locally (replication follows); `ttlMs` undefined keeps it forever. */
  put: (key: string, value: JsonValue, ttlMs?: number) => Promise<void>
  /** Fires on every change, local or from a peer. */
  onChange: (listener: () => void) => () => void
}

/** This node's seat in a swarm's election. */
export interface SwarmSeat {
  role: string
  term: number
  leader: string | null
  /** True for a term older than the one this seat is in. */
  isStale: (term: number) => boolean
}

export interface SwarmDirectory {
  definition: (name: string) => SwarmDefinition | undefined
  definitions: () => SwarmDefinition[]
  /** Undefined when this node has no seat in the swarm (not a member, or still taking it). */
  seat: (name: string) => SwarmSeat | undefined
  isConnected: (peer: string) => boolean
  onLeaderChange: (listener: () => void) => () => void
}

export interface PatternMatch {
  pattern: { name: string, content: string, namespace: string, confidence: number }
  score: number
}

/** The ReasoningBank, as agents and the outcome feedback use it. */
export interface PatternBank {
  query: (text: string, options: { limit: number }) => Promise<PatternMatch[]>
  recordOutcome: (names: string[], success: boolean) => Promise<unknown>
  storePattern: (input: { name: string, content: string, namespace: string }) => Promise<{ name: string }>
}

export interface MemoryEntryView {
  key: string
  value: JsonValue
  author: string
  updatedAt: number
}

/** Replicated memory as agents' tools see it. */
export interface SharedMemory {
  get: (namespace: string, key: string) => MemoryEntryView | undefined
  list: (namespace: string, prefix?: string) => MemoryEntryView[]
  put: (namespace: string, key: string, value: JsonValue) => Promise<void>
}

export interface TaskLog {
  debug: (fields: object, message: string) => void
  info: (fields: object, message: string) => void
  warn: (fields: object, message: string) => void
}

/** One attempt's own directory, with the task's files in it, and the tools over it its role may use. */
export interface AttemptWorkspace {
  tools: readonly AgentTool[]
  /** The files the agent created or changed, kept (as blobs) so the result can name them. */
  collect: () => Promise<FileRef[]>
  /** Removes the directory. */
  close: () => Promise<void>
}

export interface AttemptWorkspaces {
  /**
   * A fresh directory for the attempt, the task's attached files fetched (from peers if need be)
   * into it, and `carried`: the files the previous stage produced, held by its worker.
   */
  open: (spec: TaskSpec, attempt: string, role: string, signal: AbortSignal, carried?: { files: readonly FileRef[], holder: string }) => Promise<AttemptWorkspace>
}
