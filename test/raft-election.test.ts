import { describe, expect, it } from 'vitest'
import { Election } from '../protocols/raft/election.ts'
import type { RaftMessage } from '../protocols/raft/messages.ts'
import type { Output } from '../protocols/raft/output.ts'
import { INITIAL_STATE, type PersistentState } from '../protocols/raft/state.ts'
import { RaftSim } from './helpers/raft-sim.ts'

/** Ten maximum election timeouts: the liveness bound used throughout. */
const LIVENESS_MS = 10 * 300

function node (self: string, persisted: PersistentState = INITIAL_STATE, members = ['a', 'b', 'c']): Election {
  return new Election({ self, members }, { persisted, random: () => 0.5, now: 0 })
}

function only (output: Output): RaftMessage {
  expect(output.messages).toHaveLength(1)
  const message = output.messages[0]?.message
  if (message === undefined) throw new Error('no message')
  return message
}

function followersOf (sim: RaftSim, leader: string): string[] {
  return sim.ids.filter((id) => id !== leader)
}

describe('raft election: scenarios', () => {
  it('elects a leader in a healthy 3-node cluster, and keeps it', () => {
    const sim = new RaftSim({ seed: 1, size: 3 })
    const { leader, elapsedMs } = sim.awaitLeader(LIVENESS_MS)
    expect(elapsedMs).toBeLessThanOrEqual(2 * 300)
    const term = sim.election(leader).term
    expect(term).toBeGreaterThanOrEqual(1)
    sim.runFor(100)
    for (const follower of followersOf(sim, leader)) {
      expect(sim.election(follower).role).toBe('follower')
      expect(sim.election(leader).lastHeardAt(follower)).toBeGreaterThan(sim.now - 50 - 5)
      expect(sim.election(follower).lastHeardAt(leader)).toBeGreaterThan(sim.now - 50 - 5)
    }
    sim.runFor(5_000)
    expect(sim.agreedLeader()).toBe(leader)
    expect(sim.election(leader).term).toBe(term)
    expect(sim.violations).toEqual([])
  })

  it('replaces a failed leader with a new one in a higher term', () => {
    const sim = new RaftSim({ seed: 2, size: 3 })
    const { leader: first } = sim.awaitLeader(LIVENESS_MS)
    const firstTerm = sim.election(first).term
    sim.runFor(500)
    sim.crash(first)
    const { leader: second, elapsedMs } = sim.awaitLeader(LIVENESS_MS)
    expect(second).not.toBe(first)
    expect(sim.election(second).term).toBeGreaterThan(firstTerm)
    expect(elapsedMs).toBeLessThanOrEqual(2 * 300)

    sim.restart(first)
    sim.runFor(1_000)
    expect(sim.agreedLeader()).toBe(second)
    expect(sim.election(first).role).toBe('follower')
    expect(sim.violations).toEqual([])
  })

  it('PreVote: an isolated follower does not inflate its term, and rejoining leaves the leader undisturbed', () => {
    const sim = new RaftSim({ seed: 3, size: 3 })
    const { leader } = sim.awaitLeader(LIVENESS_MS)
    const term = sim.election(leader).term
    const [loner = '', other = ''] = followersOf(sim, leader)
    sim.partition([leader, other], [loner])
    sim.runFor(5_000)
    // 5 s of 150–300 ms timeouts: the loner asked for pre-votes over and over, never for votes.
    expect(sim.sent(loner, 'prevote') / 2).toBeGreaterThan(10)
    expect(sim.sent(loner, 'vote')).toBe(0)
    expect(sim.election(loner).term).toBe(term)
    expect(sim.election(loner).role).toBe('pre-candidate')

    sim.heal()
    sim.runFor(1_000)
    expect(sim.agreedLeader()).toBe(leader)
    for (const id of sim.ids) expect(sim.election(id).term).toBe(term)
    expect(sim.violations).toEqual([])
  })

  it('without PreVote the same rejoin deposes the leader (why PreVote is on)', () => {
    const sim = new RaftSim({ seed: 3, size: 3, preVote: false })
    const { leader } = sim.awaitLeader(LIVENESS_MS)
    const term = sim.election(leader).term
    const [loner = '', other = ''] = followersOf(sim, leader)
    sim.partition([leader, other], [loner])
    sim.runFor(5_000)
    expect(sim.election(loner).term).toBeGreaterThan(term + 10)
    sim.heal()
    sim.awaitLeader(LIVENESS_MS)
    expect(sim.election(other).term).toBeGreaterThan(term + 10)
    expect(sim.violations).toEqual([])
  })

  it('CheckQuorum: a leader cut off in a minority steps down within an election timeout while the majority elects another', () => {
    const sim = new RaftSim({ seed: 4, size: 5 })
    const { leader } = sim.awaitLeader(LIVENESS_MS)
    const term = sim.election(leader).term
    const [buddy = '', ...majority] = followersOf(sim, leader)
    sim.partition([leader, buddy], majority)
    const stepDownMs = sim.runUntil(() => sim.election(leader).role !== 'leader', 300)
    expect(stepDownMs).not.toBeNull()
    expect(stepDownMs).toBeLessThanOrEqual(150 + 50)

    const { leader: successor } = sim.awaitLeader(LIVENESS_MS, majority)
    expect(sim.election(successor).term).toBeGreaterThan(term)
    sim.runFor(2_000)
    expect(sim.election(leader).role).not.toBe('leader')
    expect(sim.election(leader).term).toBe(term)

    sim.heal()
    expect(sim.awaitLeader(LIVENESS_MS).leader).toBe(successor)
    expect(sim.violations).toEqual([])
  })

  it('without CheckQuorum a leader cut off in a minority keeps believing it leads', () => {
    const sim = new RaftSim({ seed: 4, size: 5, checkQuorum: false })
    const { leader } = sim.awaitLeader(LIVENESS_MS)
    const [buddy = '', ...majority] = followersOf(sim, leader)
    sim.partition([leader, buddy], majority)
    sim.awaitLeader(LIVENESS_MS, majority)
    expect(sim.election(leader).role).toBe('leader')
  })

  it('restarted from persisted {term, votedFor}, a node never votes twice in a term', () => {
    const first = node('c')
    const granted = first.receive(10, 'a', { type: 'vote', term: 5, candidate: 'a' })
    expect(granted.persist).toEqual({ term: 5, votedFor: 'a' })
    expect(only(granted)).toEqual({ type: 'vote-reply', term: 5, granted: true })

    // Crash, then restart from exactly what the driver persisted.
    const restarted = node('c', granted.persist)
    expect(restarted.votedFor).toBe('a')
    expect(only(restarted.receive(20, 'b', { type: 'vote', term: 5, candidate: 'b' }))).toEqual({ type: 'vote-reply', term: 5, granted: false })
    const again = restarted.receive(21, 'a', { type: 'vote', term: 5, candidate: 'a' })
    expect(only(again)).toEqual({ type: 'vote-reply', term: 5, granted: true })
    expect(again.persist).toBeUndefined()

    const nextTerm = restarted.receive(30, 'b', { type: 'vote', term: 6, candidate: 'b' })
    expect(only(nextTerm)).toEqual({ type: 'vote-reply', term: 6, granted: true })
    expect(nextTerm.persist).toEqual({ term: 6, votedFor: 'b' })
  })

  it('rejects stale-term messages and fences stale work', () => {
    const c = node('c', { term: 7, votedFor: null })
    const staleHeartbeat = c.receive(10, 'a', { type: 'heartbeat', term: 6, leader: 'a', members: ['a', 'b', 'c'], seq: 1 })
    expect(only(staleHeartbeat)).toEqual({ type: 'heartbeat-ack', term: 7, seq: 1 })
    expect(c.leader).toBeNull()
    expect(only(c.receive(11, 'a', { type: 'vote', term: 6, candidate: 'a' }))).toEqual({ type: 'vote-reply', term: 7, granted: false })
    // A candidate at term 6 would campaign at 7: not newer than ours.
    expect(only(c.receive(12, 'a', { type: 'prevote', term: 7, candidate: 'a' }))).toEqual({ type: 'prevote-reply', term: 7, granted: false })
    for (const message of [
      { type: 'vote-reply', term: 6, granted: true },
      { type: 'prevote-reply', term: 6, granted: true },
      { type: 'heartbeat-ack', term: 6, seq: 1 }
    ] as const) {
      expect(c.receive(13, 'b', message)).toEqual({ messages: [], events: [] })
    }
    expect(c.term).toBe(7)
    expect(c.role).toBe('follower')

    expect(c.isStale(6)).toBe(true)
    expect(c.isStale(7)).toBe(false)
    expect(c.isStale(8)).toBe(false)
  })

  it('ignores messages that claim to come from someone other than the sender', () => {
    const c = node('c')
    expect(c.receive(10, 'b', { type: 'heartbeat', term: 3, leader: 'a', seq: 1 })).toEqual({ messages: [], events: [] })
    expect(only(c.receive(11, 'b', { type: 'vote', term: 3, candidate: 'a' }))).toEqual({ type: 'vote-reply', term: 0, granted: false })
    expect(c.term).toBe(0)
  })

  it('walks through pre-vote, vote and leadership, telling the driver what to persist, send and announce', () => {
    const a = node('a')
    expect(a.nextDeadline).toBe(225)
    expect(a.tick(224)).toEqual({ messages: [], events: [] })

    const preVote = a.tick(225)
    expect(preVote.persist).toBeUndefined()
    expect(preVote.messages).toEqual([
      { to: 'b', message: { type: 'prevote', term: 1, candidate: 'a' } },
      { to: 'c', message: { type: 'prevote', term: 1, candidate: 'a' } }
    ])
    expect(preVote.events).toEqual([{ type: 'role-changed', role: 'pre-candidate', term: 0 }])

    const vote = a.receive(226, 'b', { type: 'prevote-reply', term: 1, granted: true })
    expect(vote.persist).toEqual({ term: 1, votedFor: 'a' })
    expect(vote.messages.map(({ to, message }) => [to, message.type, message.term])).toEqual([['b', 'vote', 1], ['c', 'vote', 1]])
    expect(vote.events).toEqual([{ type: 'term-changed', term: 1 }, { type: 'role-changed', role: 'candidate', term: 1 }])

    const won = a.receive(227, 'c', { type: 'vote-reply', term: 1, granted: true })
    expect(won.persist).toBeUndefined()
    expect(won.messages).toEqual([
      { to: 'b', message: { type: 'heartbeat', term: 1, leader: 'a', members: ['a', 'b', 'c'], seq: 1 } },
      { to: 'c', message: { type: 'heartbeat', term: 1, leader: 'a', members: ['a', 'b', 'c'], seq: 1 } }
    ])
    expect(won.events).toEqual([{ type: 'role-changed', role: 'leader', term: 1 }, { type: 'leader-changed', leader: 'a', term: 1 }])
    expect(a.nextDeadline).toBe(227 + 50)

    // An ack from a newer term means someone else moved on: step down.
    const deposed = a.receive(230, 'b', { type: 'heartbeat-ack', term: 3, seq: 1 })
    expect(deposed.persist).toEqual({ term: 3, votedFor: null })
    expect(a.role).toBe('follower')
    expect(a.leader).toBeNull()
  })

  it('after a won pre-vote, a split vote is retried within 50–150 ms rather than a full election timeout', () => {
    const members = ['a', 'b', 'c', 'd', 'e']
    const a = new Election({ self: 'a', members }, { persisted: INITIAL_STATE, random: () => 0.5, now: 0 })
    a.tick(225)
    a.receive(226, 'b', { type: 'prevote-reply', term: 1, granted: true })
    a.receive(226, 'c', { type: 'prevote-reply', term: 1, granted: true })
    expect(a.role).toBe('candidate')
    // Heartbeat interval (50) plus half of the remaining spread (300 − 150 − 50): 100 ms after the round started.
    expect(a.nextDeadline).toBe(226 + 100)
    // b and c voted for another candidate that timed out at the same moment; d and e for a: 3 of 5 for nobody.
    a.receive(227, 'b', { type: 'vote-reply', term: 1, granted: false })
    a.receive(227, 'c', { type: 'vote-reply', term: 1, granted: false })
    a.receive(227, 'd', { type: 'vote-reply', term: 1, granted: true })
    expect(a.role).toBe('candidate')
    expect(a.tick(325).messages).toEqual([])
    expect(a.tick(326).messages.map(({ message }) => message.type)).toEqual(['prevote', 'prevote', 'prevote', 'prevote'])
    expect(a.role).toBe('pre-candidate')

    // Without pre-vote nothing says the cluster is leaderless, so the candidate keeps the full timeout.
    const plain = new Election({ self: 'a', members, preVote: false }, { persisted: INITIAL_STATE, random: () => 0.5, now: 0 })
    plain.tick(225)
    expect(plain.role).toBe('candidate')
    expect(plain.nextDeadline).toBe(225 + 225)
  })

  it('announces a leader re-elected in a newer term as a new leadership', () => {
    const c = node('c')
    c.receive(10, 'a', { type: 'heartbeat', term: 1, leader: 'a', seq: 1 })
    expect(c.receive(20, 'a', { type: 'heartbeat', term: 2, leader: 'a', seq: 1 }).events).toEqual([
      { type: 'term-changed', term: 2 },
      { type: 'leader-changed', leader: 'a', term: 2 }
    ])
  })

  it('leader stickiness: a follower that hears its leader rejects votes without adopting their term', () => {
    const sim = new RaftSim({ seed: 5, size: 3 })
    const { leader } = sim.awaitLeader(LIVENESS_MS)
    const [follower = '', rival = ''] = followersOf(sim, leader)
    const term = sim.election(follower).term
    const reply = sim.election(follower).receive(sim.now, rival, { type: 'vote', term: term + 5, candidate: rival })
    expect(only(reply)).toEqual({ type: 'vote-reply', term, granted: false })
    expect(reply.persist).toBeUndefined()
    expect(sim.election(follower).term).toBe(term)
  })

  it('adds and removes voters, including the leader itself', () => {
    const sim = new RaftSim({ seed: 6, size: 3 })
    const { leader } = sim.awaitLeader(LIVENESS_MS)
    const term = sim.election(leader).term
    const grown = [...sim.ids, 'n4']
    sim.addNode('n4', grown)
    sim.setMembers(leader, grown)
    sim.runFor(500)
    expect(sim.agreedLeader()).toBe(leader)
    for (const id of grown) expect(sim.election(id).members).toEqual(grown)
    expect(sim.election(leader).lastHeardAt('n4')).toBeGreaterThan(sim.now - 60)
    expect(sim.election(leader).term).toBe(term)

    // Removing a follower: it learns from the leader's last heartbeat to it and stops campaigning.
    const removed = followersOf(sim, leader).find((id) => id !== 'n4') ?? ''
    const shrunk = grown.filter((id) => id !== removed)
    sim.setMembers(leader, shrunk)
    const preVotesBefore = sim.sent(removed, 'prevote')
    sim.runFor(3_000)
    expect(sim.election(removed).members).toEqual(shrunk)
    expect(sim.election(removed).role).toBe('follower')
    expect(sim.sent(removed, 'prevote')).toBe(preVotesBefore)
    expect(sim.agreedLeader(shrunk)).toBe(leader)
    expect(sim.election(leader).term).toBe(term)

    // Removing the leader: it announces the new list, steps down, and the rest elect a successor.
    const remaining = shrunk.filter((id) => id !== leader)
    sim.setMembers(leader, remaining)
    expect(sim.election(leader).role).toBe('follower')
    const { leader: successor } = sim.awaitLeader(LIVENESS_MS, remaining)
    expect(remaining).toContain(successor)
    expect(sim.election(successor).members).toEqual(remaining)
    expect(sim.violations).toEqual([])
  })

  it('a single-member swarm elects itself at its first tick', () => {
    const solo = new Election({ self: 'a', members: ['a'] }, { persisted: INITIAL_STATE, random: () => 0.5, now: 1_000 })
    expect(solo.nextDeadline).toBe(1_000)
    const output = solo.tick(1_000)
    expect(output.messages).toEqual([])
    expect(output.persist).toEqual({ term: 1, votedFor: 'a' })
    expect(output.events).toEqual([
      { type: 'term-changed', term: 1 },
      { type: 'role-changed', role: 'leader', term: 1 },
      { type: 'leader-changed', leader: 'a', term: 1 }
    ])
    expect(solo.tick(60_000).events).toEqual([])
    expect(solo.role).toBe('leader')
  })

  it('rejects invalid configuration and persisted state', () => {
    const start = { persisted: INITIAL_STATE, random: () => 0.5, now: 0 }
    expect(() => new Election({ self: 'a', members: ['a', 'a'] }, start)).toThrow(/unique/)
    expect(() => new Election({ self: '', members: [] }, start)).toThrow(/self/)
    expect(() => new Election({ self: 'a', members: ['a'], heartbeatIntervalMs: 150 }, start)).toThrow(/heartbeatIntervalMs/)
    expect(() => new Election({ self: 'a', members: ['a'], electionTimeoutMinMs: 300, electionTimeoutMaxMs: 200 }, start)).toThrow(/electionTimeoutMaxMs/)
    expect(() => new Election({ self: 'a', members: ['a'] }, { ...start, persisted: { term: -1, votedFor: null } })).toThrow(/term/)
  })
})
