import { describe, expect, it } from 'vitest'
import type { SwarmDefinition, Topology } from '../protocols/swarm.ts'
import { chooseClaimant, tasksToClaim } from '../src/swarm/tasks/claims.ts'
import type { StoredRecord } from '../src/swarm/tasks/record-index.ts'
import { planAssignments, type SchedulerInput } from '../src/swarm/tasks/scheduler.ts'
import type { TaskView } from '../src/swarm/tasks/task-view.ts'
import { chooseWorker, hashOf, successRate, type Candidate } from '../src/swarm/tasks/worker-choice.ts'
import { assignmentRecord, claimRecord, progressRecord, resultRecord, specRecord, viewOf } from './helpers/task-records.ts'

const MEMBERS = ['A', 'B', 'C']

function swarm (topology: Topology, fields: Partial<SwarmDefinition> = {}): SwarmDefinition {
  return { name: 'work', topology, maxAgents: 64, members: MEMBERS, roles: {}, createdBy: 'A', createdAt: 0, version: 1, ...fields }
}

function views (...groups: StoredRecord[][]): TaskView[] {
  return groups.map((records, i) => viewOf(records, (records[0]?.key ?? '').split('/')[1] ?? `t${i}`) as TaskView)
}

function task (id: string, submittedAt: number, ...rest: StoredRecord[]): StoredRecord[] {
  return [specRecord(id, { submittedAt }), ...rest]
}

function input (definition: SwarmDefinition, taskViews: TaskView[], fields: Partial<SchedulerInput> = {}): SchedulerInput {
  return {
    swarm: definition,
    leader: 'A',
    term: 4,
    views: taskViews,
    capacities: new Map(MEMBERS.map((peer) => [peer, 2])),
    alive: () => true,
    silentForMs: () => 0,
    claimSeenAt: () => 0,
    timing: { workerTimeoutMs: 1_000, graceMs: 200, settleMs: 200 },
    leadingForMs: 10_000,
    now: 100,
    ...fields
  }
}

function assigned (decisions: ReturnType<typeof planAssignments>): Array<[string, string | null]> {
  return decisions.map((decision) => [decision.task, decision.assignment.worker])
}

describe('hierarchical: the leader assigns to the member with the most free slots', () => {
  it('spreads queued tasks over the members and stops at their capacity', () => {
    const queued = views(...Array.from({ length: 8 }, (_, i) => task(`t${i}`, i)))
    const decisions = planAssignments(input(swarm('hierarchical'), queued))
    expect(assigned(decisions)).toEqual([['t0', 'A'], ['t1', 'B'], ['t2', 'C'], ['t3', 'A'], ['t4', 'B'], ['t5', 'C']])
    expect(decisions.every((decision) => decision.assignment.term === 4 && decision.assignment.leader === 'A' && decision.assignment.n === 1)).toBe(true)
  })

  it('counts attempts already open, in any swarm, against a member', () => {
    const busy = views(task('o1', 0, assignmentRecord('o1', '3.1', 'A')), task('o2', 0, assignmentRecord('o2', '3.1', 'A', { stage: 0 })))
    busy[1] = { ...busy[1] as TaskView, spec: { ...(busy[1] as TaskView).spec, swarm: 'other' } }
    const decisions = planAssignments(input(swarm('hierarchical'), [...busy, ...views(task('t1', 5), task('t2', 6))]))
    expect(assigned(decisions)).toEqual([['t1', 'B'], ['t2', 'C']])
  })

  it('skips members that are unreachable, have published no capacity, or do not offer the role', () => {
    const definition = swarm('hierarchical', { roles: { A: ['reviewer'], B: [], C: [] } })
    const decisions = planAssignments(input(definition, views(task('t1', 1), task('t2', 2)), {
      alive: (peer) => peer !== 'B',
      capacities: new Map([['A', 2], ['B', 2]])
    }))
    expect(decisions).toEqual([])
  })

  it('never runs more than the swarm’s maxAgents at once', () => {
    const decisions = planAssignments(input(swarm('hierarchical', { maxAgents: 2 }), views(task('t1', 1), task('t2', 2), task('t3', 3))))
    expect(decisions).toHaveLength(2)
  })
})

describe('ring: each stage passes to the next member in ring order', () => {
  const stages = { stages: ['planner', 'coder', 'reviewer'] }

  it('starts a first stage at a position hashed from the task id', () => {
    const start = MEMBERS[hashOf('t1') % MEMBERS.length]
    expect(assigned(planAssignments(input(swarm('ring'), views([specRecord('t1', stages)]))))).toEqual([['t1', start]])
  })

  it('gives the next stage to the successor of the previous stage’s worker, and waits for it when busy', () => {
    const firstDone = [specRecord('t1', stages), assignmentRecord('t1', '1.1', 'C'), resultRecord('t1', '1.1', 'C')]
    const decisions = planAssignments(input(swarm('ring'), views(firstDone)))
    expect(decisions).toMatchObject([{ task: 't1', assignment: { worker: 'A', stage: 1, inputFrom: '1.1', reason: 'next-stage', n: 2 } }])
    const aBusy = views(firstDone, task('o1', 0, assignmentRecord('o1', '1.1', 'A')), task('o2', 0, assignmentRecord('o2', '1.1', 'A')))
    expect(planAssignments(input(swarm('ring'), aBusy)).filter((decision) => decision.task === 't1')).toEqual([])
  })

  it('skips a successor that cannot take the stage at all', () => {
    const firstDone = [specRecord('t1', stages), assignmentRecord('t1', '1.1', 'C'), resultRecord('t1', '1.1', 'C')]
    const decisions = planAssignments(input(swarm('ring'), views(firstDone), { alive: (peer) => peer !== 'A' }))
    expect(assigned(decisions)).toEqual([['t1', 'B']])
  })
})

describe('adaptive: the leader weighs past success per member and role, and load', () => {
  it('prefers the member that succeeds more often in the role', () => {
    const history = new Map([['A', { successes: 0, failures: 4 }], ['B', { successes: 4, failures: 0 }], ['C', { successes: 1, failures: 1 }]])
    const candidates: Candidate[] = MEMBERS.map((peer) => ({ peer, roles: [], capacity: 2, load: 0, alive: true }))
    expect(chooseWorker({ topology: 'adaptive', taskId: 't', role: 'coder', step: { avoid: [], ringAfter: null }, candidates, history })).toBe('B')
    expect(successRate(undefined)).toBe(0.5)
  })

  it('moves work away from a busy member even when it succeeds more', () => {
    const history = new Map([['B', { successes: 4, failures: 0 }]])
    const candidates: Candidate[] = MEMBERS.map((peer) => ({ peer, roles: [], capacity: 4, load: peer === 'B' ? 3 : 0, alive: true }))
    // B: 5/6 x 1/4 free; A and C: 1/2 x 4/4 free.
    expect(chooseWorker({ topology: 'adaptive', taskId: 't', role: 'coder', step: { avoid: [], ringAfter: null }, candidates, history })).toBe('A')
  })

  it('learns from results recorded in the tasks themselves', () => {
    const history = [
      task('h1', 0, assignmentRecord('h1', '1.1', 'A'), resultRecord('h1', '1.1', 'A', { status: 'failed', retryable: false })),
      task('h2', 0, assignmentRecord('h2', '1.1', 'A'), resultRecord('h2', '1.1', 'A', { status: 'failed', retryable: false })),
      task('h3', 0, assignmentRecord('h3', '1.1', 'B'), resultRecord('h3', '1.1', 'B'))
    ]
    const decisions = planAssignments(input(swarm('adaptive'), views(...history, task('t1', 5))))
    expect(assigned(decisions)).toEqual([['t1', 'B']])
  })
})

describe('mesh: members claim queued tasks and the leader confirms one claim', () => {
  it('assigns nothing unclaimed, and the first claim it saw for the current round wins', () => {
    expect(planAssignments(input(swarm('mesh'), views(task('t1', 1))))).toEqual([])
    const claimed = views(task('t1', 1, claimRecord('t1', 'B', null), claimRecord('t1', 'C', null), claimRecord('t1', 'A', 'old')))
    const seen: Record<string, number> = { A: 1, B: 30, C: 20 }
    const decisions = planAssignments(input(swarm('mesh'), claimed, { claimSeenAt: (_task, peer) => seen[peer] ?? 0 }))
    expect(decisions).toMatchObject([{ task: 't1', assignment: { worker: 'C', reason: 'claimed' } }])
  })

  it('ignores claims from members that are full or unreachable', () => {
    const candidates: Candidate[] = [
      { peer: 'B', roles: [], capacity: 1, load: 1, alive: true },
      { peer: 'C', roles: [], capacity: 2, load: 0, alive: false }
    ]
    const claims = [{ peer: 'B', claim: { after: null, at: 0 }, seenAt: 1 }, { peer: 'C', claim: { after: null, at: 0 }, seenAt: 2 }]
    expect(chooseClaimant(claims, null, 'coder', candidates, [])).toBeUndefined()
  })

  it('claims no more tasks than free slots, counting claims already out', () => {
    const queued = views(task('t1', 1, claimRecord('t1', 'B', null)), task('t2', 2), task('t3', 3), task('t4', 4))
    expect(tasksToClaim({ self: 'B', roles: [], queued, freeSlots: 2 }).map((view) => view.id)).toEqual(['t2'])
    expect(tasksToClaim({ self: 'B', roles: ['reviewer'], queued, freeSlots: 2 })).toEqual([])
  })
})

describe('a new leader', () => {
  it('places and moves nothing until it has led its term for the settle time, unless it is the first term', () => {
    const queued = (): TaskView[] => views(task('t1', 1))
    const lost = (): TaskView[] => views(task('t2', 1, assignmentRecord('t2', '3.1', 'B')))
    expect(planAssignments(input(swarm('hierarchical'), queued(), { leadingForMs: 150 }))).toEqual([])
    expect(planAssignments(input(swarm('hierarchical'), lost(), { leadingForMs: 150, silentForMs: () => 5_000 }))).toEqual([])
    expect(assigned(planAssignments(input(swarm('hierarchical'), queued(), { leadingForMs: 200 })))).toEqual([['t1', 'A']])
    expect(planAssignments(input(swarm('hierarchical'), lost(), { leadingForMs: 200, silentForMs: () => 5_000 }))).toMatchObject([{ assignment: { reason: 'reassigned' } }])
    expect(assigned(planAssignments(input(swarm('hierarchical'), queued(), { term: 1, leadingForMs: 0 })))).toEqual([['t1', 'A']])
  })
})

describe('recovery of lost workers', () => {
  const running = (): TaskView[] => views(task('t1', 1, assignmentRecord('t1', '4.1', 'B', { leader: 'A' })))

  it('moves an attempt whose worker has been silent too long, and only then', () => {
    expect(planAssignments(input(swarm('hierarchical'), running(), { silentForMs: () => 900 }))).toEqual([])
    const decisions = planAssignments(input(swarm('hierarchical'), running(), { silentForMs: () => 1_100 }))
    expect(decisions).toMatchObject([{ task: 't1', assignment: { worker: 'A', reason: 'reassigned', n: 2, term: 4 } }])
  })

  it('moves sooner an assignment of an earlier leader that its worker never took up', () => {
    const stale = (): TaskView[] => views(task('t1', 1, assignmentRecord('t1', '3.1', 'B')))
    expect(planAssignments(input(swarm('hierarchical'), stale(), { silentForMs: () => 150 }))).toEqual([])
    const decisions = planAssignments(input(swarm('hierarchical'), stale(), { silentForMs: () => 300 }))
    expect(decisions).toMatchObject([{ assignment: { worker: 'A', reason: 'reassigned', term: 4 } }])
    const takenUp = views(task('t1', 1, assignmentRecord('t1', '3.1', 'B'), progressRecord('t1', '3.1', 'B')))
    expect(planAssignments(input(swarm('hierarchical'), takenUp, { silentForMs: () => 300 }))).toEqual([])
  })

  it('moves sooner when the worker is not even connected', () => {
    const decisions = planAssignments(input(swarm('hierarchical'), running(), { silentForMs: () => 300, alive: (peer) => peer !== 'B' }))
    expect(decisions).toMatchObject([{ assignment: { worker: 'A', reason: 'reassigned' } }])
  })

  it('gives up with the reason once every attempt is used', () => {
    const exhausted = views([specRecord('t1', { maxAttempts: 1 }), assignmentRecord('t1', '4.1', 'B', { leader: 'A' })])
    const decisions = planAssignments(input(swarm('hierarchical'), exhausted, { silentForMs: () => 5_000 }))
    expect(decisions).toMatchObject([{ assignment: { worker: null, reason: 'abandoned' } }])
    expect(decisions[0]?.assignment.error).toMatch(/^worker B stopped reporting \(silent for 5000 ms\), and all 1 attempts are used$/)
  })

  it('waits the full timeout before giving up on a worker only briefly out of reach', () => {
    const exhausted = (): TaskView[] => views([specRecord('t1', { maxAttempts: 1 }), assignmentRecord('t1', '4.1', 'B', { leader: 'A' })])
    const unreachable = { alive: (peer: string) => peer !== 'B' }
    expect(planAssignments(input(swarm('hierarchical'), exhausted(), { silentForMs: () => 300, ...unreachable }))).toEqual([])
    const decisions = planAssignments(input(swarm('hierarchical'), exhausted(), { silentForMs: () => 1_100, ...unreachable }))
    expect(decisions).toMatchObject([{ assignment: { worker: null, reason: 'abandoned' } }])
    expect(decisions[0]?.assignment.error).toMatch(/^worker B is unreachable \(silent for 1100 ms\), and all 1 attempts are used$/)
  })

  it('never moves an attempt whose result is in', () => {
    const finished = views(task('t1', 1, assignmentRecord('t1', '3.1', 'B'), resultRecord('t1', '3.1', 'B')))
    expect(planAssignments(input(swarm('hierarchical'), finished, { silentForMs: () => 60_000, alive: () => false }))).toEqual([])
  })
})
