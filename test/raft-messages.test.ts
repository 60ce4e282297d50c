import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../protocols/framing.ts'
import {
  decodeRaftMessage, isHeartbeat, isHeartbeatAck, isPreVoteRequest, isPreVoteResponse, isVoteRequest, isVoteResponse,
  RAFT_LIMITS, toWire, type RaftMessage
} from '../protocols/raft/messages.ts'

const every: RaftMessage[] = [
  { type: 'prevote', term: 4, candidate: 'a' },
  { type: 'prevote-reply', term: 4, granted: true },
  { type: 'vote', term: 4, candidate: 'a' },
  { type: 'vote-reply', term: 4, granted: false },
  { type: 'heartbeat', term: 4, leader: 'a', members: ['a', 'b', 'c'], seq: 9 },
  { type: 'heartbeat', term: 4, leader: 'a', seq: 10 },
  { type: 'heartbeat-ack', term: 4, seq: 9 }
]

function wire (fields: Record<string, unknown>): unknown {
  return JSON.parse(JSON.stringify({ v: 1, ...fields }))
}

describe('raft messages', () => {
  it('round-trips every message through JSON', () => {
    for (const message of every) {
      expect(decodeRaftMessage(JSON.parse(JSON.stringify(toWire(message))))).toEqual(message)
    }
  })

  it('narrows with one type guard per message', () => {
    const guards = [isPreVoteRequest, isPreVoteResponse, isVoteRequest, isVoteResponse, isHeartbeat, isHeartbeatAck]
    const expected = [isPreVoteRequest, isPreVoteResponse, isVoteRequest, isVoteResponse, isHeartbeat, isHeartbeat, isHeartbeatAck]
    every.forEach((message, index) => {
      expect(guards.filter((guard) => guard(message))).toEqual([expected[index]])
    })
  })

  it.each([
    ['not an object', [1, 2], /\(root\): expected an object/],
    ['null', null, /\(root\): expected an object/],
    ['no version', { type: 'vote', term: 1, candidate: 'a' }, /v: unsupported version undefined/],
    ['a future version', { v: 2, type: 'vote', term: 1, candidate: 'a' }, /v: unsupported version 2/],
    ['an unknown type', wire({ type: 'append', term: 1 }), /invalid raft message: type/],
    ['a missing field', wire({ type: 'vote', term: 1 }), /candidate/],
    ['a negative term', wire({ type: 'vote', term: -1, candidate: 'a' }), /term/],
    ['a fractional term', wire({ type: 'vote', term: 1.5, candidate: 'a' }), /term/],
    ['a term beyond 2^53', wire({ type: 'heartbeat-ack', term: 2 ** 60, seq: 1 }), /term/],
    ['a string where a boolean goes', wire({ type: 'vote-reply', term: 1, granted: 'yes' }), /granted/],
    ['an extra field', wire({ type: 'prevote', term: 1, candidate: 'a', log: [] }), /log/],
    ['an empty candidate', wire({ type: 'prevote', term: 1, candidate: '' }), /candidate/],
    ['an overlong id', wire({ type: 'vote', term: 1, candidate: 'x'.repeat(RAFT_LIMITS.maxMemberIdChars + 1) }), /candidate/],
    ['duplicate members', wire({ type: 'heartbeat', term: 1, leader: 'a', members: ['a', 'a'], seq: 1 }), /members: members must be unique/],
    ['an empty member list', wire({ type: 'heartbeat', term: 1, leader: 'a', members: [], seq: 1 }), /members/],
    ['too many members', wire({ type: 'heartbeat', term: 1, leader: 'a', members: Array.from({ length: RAFT_LIMITS.maxMembers + 1 }, (_, i) => `m${i}`), seq: 1 }), /members/]
  ])('rejects %s with a ProtocolError naming the problem', (_name, value, problem) => {
    expect(() => decodeRaftMessage(value)).toThrow(ProtocolError)
    expect(() => decodeRaftMessage(value)).toThrow(problem)
  })

  it('keeps the largest heartbeat far below the frame cap', () => {
    const members = Array.from({ length: RAFT_LIMITS.maxMembers }, (_, i) => `${i}`.padEnd(RAFT_LIMITS.maxMemberIdChars, 'x'))
    const frame = JSON.stringify(toWire({ type: 'heartbeat', term: Number.MAX_SAFE_INTEGER, leader: members[0] ?? '', members, seq: Number.MAX_SAFE_INTEGER }))
    expect(frame.length).toBeLessThan(RAFT_LIMITS.maxFrameBytes / 4)
  })
})
