import { describe, expect, it } from 'vitest'
import { grantKey } from '../src/swarm/tasks/keys.ts'
import type { Grant } from '../src/swarm/tasks/records.ts'
import { effectiveCap, planGrants, standingSetting, swarmSpend, utcDay } from '../src/swarm/tasks/spend-ledger.ts'
import type { TaskView } from '../src/swarm/tasks/task-view.ts'
import { assignmentRecord, progressRecord, resultRecord, specRecord, viewOf } from './helpers/task-records.ts'

/** The leader's allotment policy, as a pure function of the records. */

const NOW = Date.UTC(2026, 0, 15, 12)
const DAY = utcDay(NOW)

function grant (task: string, attempt: string, worker: string, usd: number, fields: Partial<Grant> = {}): Grant {
  return { leader: 'L', term: 1, seq: 1, swarm: 'work', task, attempt, worker, usd, day: DAY, at: NOW, exhausted: null, ...fields }
}

function views (...records: Parameters<typeof viewOf>[0][]): TaskView[] {
  return records.map((task, i) => viewOf(task, `t${i + 1}`) as TaskView)
}

describe('spend ledger', () => {
  it('grants a tenth of the cap to an open attempt, never more than what is left', () => {
    const open = views(
      [specRecord('t1'), assignmentRecord('t1', '1.1', 'A', { at: NOW }), progressRecord('t1', '1.1', 'A', { costUsd: 0 })],
      [specRecord('t2'), assignmentRecord('t2', '1.1', 'B', { at: NOW }), progressRecord('t2', '1.1', 'B', { costUsd: 0 })]
    )
    const grants = planGrants({ swarm: 'work', leader: 'L', term: 3, capUsd: 1, views: open, grants: [], now: NOW })
    expect(grants.map((g) => [g.task, g.worker, g.usd, g.term, g.seq])).toEqual([['t1', 'A', 0.1, 3, 1], ['t2', 'B', 0.1, 3, 2]])
    // Almost all of the cap already committed elsewhere: only the rest is granted.
    const nearlySpent = views(
      [specRecord('t1'), assignmentRecord('t1', '1.1', 'A', { at: NOW }), progressRecord('t1', '1.1', 'A', { costUsd: 0 })],
      [specRecord('t2'), assignmentRecord('t2', '1.1', 'B', { at: NOW }), resultRecord('t2', '1.1', 'B', { costUsd: 0.95 })]
    )
    expect(planGrants({ swarm: 'work', leader: 'L', term: 3, capUsd: 1, views: nearlySpent, grants: [], now: NOW }).map((g) => g.usd))
      .toEqual([expect.closeTo(0.05, 9)])
  })

  it('counts a lost attempt at what it was granted, and says so once the cap is spent', () => {
    const records = views(
      // A was granted 0.6 and went silent after reporting 0.1: the 0.6 stays committed.
      [specRecord('t1'), assignmentRecord('t1', '1.1', 'A', { at: NOW }), progressRecord('t1', '1.1', 'A', { costUsd: 0.1 }), assignmentRecord('t1', '1.2', 'B', { at: NOW, reason: 'reassigned' }),
        progressRecord('t1', '1.2', 'B', { costUsd: 0.4 })]
    )
    const given = [grant('t1', '1.1', 'A', 0.6), grant('t1', '1.2', 'B', 0.4, { seq: 2 })]
    expect(swarmSpend('work', records, given, DAY)).toEqual({ spentUsd: 0.5, committedUsd: 1, grantedUsd: 1 })
    const next = planGrants({ swarm: 'work', leader: 'L', term: 1, capUsd: 1, views: records, grants: given, now: NOW })
    expect(next).toEqual([expect.objectContaining({ task: 't1', attempt: '1.2', worker: 'B', usd: 0, seq: 3, exhausted: "the daily spend cap of $1 for swarm 'work' is spent" })])
    // Said once per term.
    expect(planGrants({ swarm: 'work', leader: 'L', term: 1, capUsd: 1, views: records, grants: [...given, ...next], now: NOW })).toEqual([])
  })

  it('splits a network cap evenly among swarms; the latest setting stands', () => {
    expect(effectiveCap(null, null, 3)).toBeNull()
    expect(effectiveCap(5, null, 3)).toBe(5)
    expect(effectiveCap(null, 9, 3)).toBe(3)
    expect(effectiveCap(2, 9, 3)).toBe(2)
    expect(standingSetting([{ dailyUsd: 1, by: 'A', at: 5 }, { dailyUsd: 2, by: 'B', at: 7 }, { dailyUsd: 3, by: 'C', at: 6 }])?.dailyUsd).toBe(2)
    expect(grantKey('work', 4, 2)).toBe('grant/work/4.2')
  })
})
