import { z } from 'zod'
import { ProtocolError } from '../framing.ts'

/**
 * Election messages. On the wire each one is a JSON object with `v: RAFT_WIRE_VERSION` added
 * (see `toWire`); a receiver rejects other versions instead of guessing at their meaning.
 */
export const RAFT_WIRE_VERSION = 1

export const RAFT_LIMITS = {
  maxFrameBytes: 64 * 1024,
  maxMemberIdChars: 128,
  /** A heartbeat lists at most this many members; 64 ids of 128 chars stay far below the frame cap. */
  maxMembers: 64,
  /** Election streams per connection: one each way is the norm, a restart briefly adds another. */
  maxStreams: 4,
  /** An election stream idle this long is closed; a leader's heartbeats keep a live one busy. */
  idleTimeoutMs: 60_000,
  /** Frames queued while a stream opens, or while it is congested, beyond which messages drop. */
  maxQueuedFrames: 64
} as const

const counter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const memberId = z.string().min(1).max(RAFT_LIMITS.maxMemberIdChars)
const memberList = z.array(memberId).min(1).max(RAFT_LIMITS.maxMembers)
  .refine((members) => new Set(members).size === members.length, 'members must be unique')

/** "Would you vote for me at `term`?" — `term` is the one the candidate WOULD use; nobody's term changes. */
const PreVoteRequestSchema = z.strictObject({ type: z.literal('prevote'), term: counter, candidate: memberId })
/** `term` echoes the request's term when granted, otherwise it is the voter's own term. */
const PreVoteResponseSchema = z.strictObject({ type: z.literal('prevote-reply'), term: counter, granted: z.boolean() })
const VoteRequestSchema = z.strictObject({ type: z.literal('vote'), term: counter, candidate: memberId })
const VoteResponseSchema = z.strictObject({ type: z.literal('vote-reply'), term: counter, granted: z.boolean() })
/** `members` is the leader's voter list, which followers adopt; `seq` counts heartbeats within one leadership. */
const HeartbeatSchema = z.strictObject({ type: z.literal('heartbeat'), term: counter, leader: memberId, members: memberList.optional(), seq: counter })
const HeartbeatAckSchema = z.strictObject({ type: z.literal('heartbeat-ack'), term: counter, seq: counter })

export type PreVoteRequest = z.infer<typeof PreVoteRequestSchema>
export type PreVoteResponse = z.infer<typeof PreVoteResponseSchema>
export type VoteRequest = z.infer<typeof VoteRequestSchema>
export type VoteResponse = z.infer<typeof VoteResponseSchema>
export type Heartbeat = z.infer<typeof HeartbeatSchema>
export type HeartbeatAck = z.infer<typeof HeartbeatAckSchema>

export const RaftMessageSchema = z.discriminatedUnion('type', [
  PreVoteRequestSchema,
  PreVoteResponseSchema,
  VoteRequestSchema,
  VoteResponseSchema,
  HeartbeatSchema,
  HeartbeatAckSchema
])
export type RaftMessage = z.infer<typeof RaftMessageSchema>
export type RaftMessageType = RaftMessage['type']

export type WireRaftMessage = RaftMessage & { v: typeof RAFT_WIRE_VERSION }

export function toWire (message: RaftMessage): WireRaftMessage {
  return { v: RAFT_WIRE_VERSION, ...message }
}

/**
 * Validates a parsed JSON value as a wire message and returns it without the version field.
 * Anything else — wrong version, unknown type, missing, extra or out-of-range fields — is a ProtocolError.
 */
export function decodeRaftMessage (value: unknown): RaftMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('invalid raft message: (root): expected an object')
  }
  const { v, ...message } = value as Record<string, unknown>
  if (v !== RAFT_WIRE_VERSION) {
    throw new ProtocolError(`invalid raft message: v: unsupported version ${typeof v === 'number' ? v : typeof v} (expected ${RAFT_WIRE_VERSION})`)
  }
  const result = RaftMessageSchema.safeParse(message)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new ProtocolError(`invalid raft message: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'rejected'}`)
  }
  return result.data
}

function isOfType<T extends RaftMessageType> (type: T) {
  return (message: RaftMessage): message is Extract<RaftMessage, { type: T }> => message.type === type
}

export const isPreVoteRequest = isOfType('prevote')
export const isPreVoteResponse = isOfType('prevote-reply')
export const isVoteRequest = isOfType('vote')
export const isVoteResponse = isOfType('vote-reply')
export const isHeartbeat = isOfType('heartbeat')
export const isHeartbeatAck = isOfType('heartbeat-ack')
