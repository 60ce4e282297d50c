import type { BudgetSetting, Grant } from './records.ts'
import type { Attempt, TaskView } from './task-view.ts'

/**
 * Daily spend caps without a central server (pure). The leader of a capped swarm hands each open
 * attempt allotments from what is left of the day's cap; a worker spends only what it holds. What
 * is left is counted conservatively: an attempt that ended counts what it spent, an open or lost
 * one counts the larger of what it was granted and what it reported spending. A leader never grants
 * from money another attempt might still spend, so a partition can stop work early but never make
 * the swarm overspend (see README.md for the bound).
 */

/** Allotments are a tenth of the day's cap: small enough to spread it, large enough to need few rounds. */
export const GRANT_FRACTION = 0.1
const MIN_GRANT_USD = 0.0001

export function utcDay (ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

/** The latest setting stands (by its maker's clock, then the higher PeerId). */
export function standingSetting (settings: readonly BudgetSetting[]): BudgetSetting | undefined {
  let standing: BudgetSetting | undefined
  for (const setting of settings) {
    if (standing === undefined || setting.at > standing.at || (setting.at === standing.at && setting.by > standing.by)) standing = setting
  }
  return standing
}

/** A swarm's cap for the day: its own, and its equal share of the network's among the swarms that exist. */
export function effectiveCap (swarmUsd: number | null, networkUsd: number | null, swarmCount: number): number | null {
  const share = networkUsd === null ? null : networkUsd / Math.max(1, swarmCount)
  if (swarmUsd === null) return share
  return share === null ? swarmUsd : Math.min(swarmUsd, share)
}

const attemptKey = (task: string, attempt: string): string => `${task}/${attempt}`

export function grantsByAttempt (grants: readonly Grant[]): Map<string, Grant[]> {
  const byAttempt = new Map<string, Grant[]>()
  for (const grant of grants) {
    const key = attemptKey(grant.task, grant.attempt)
    byAttempt.set(key, [...(byAttempt.get(key) ?? []), grant])
  }
  return byAttempt
}

function granted (grants: readonly Grant[] | undefined): number {
  let total = 0
  for (const grant of grants ?? []) total += grant.usd
  return total
}

export function spentBy (attempt: Attempt): number {
  return attempt.result?.costUsd ?? attempt.progress?.costUsd ?? 0
}

export interface SwarmSpend {
  /** What the swarm's attempts of the day reported spending. */
  spentUsd: number
  /** What counts against the cap: ended attempts' spend, open ones' max(granted, spent). */
  committedUsd: number
  grantedUsd: number
}

export function swarmSpend (swarm: string, views: readonly TaskView[], grants: readonly Grant[], day: string): SwarmSpend {
  const byAttempt = grantsByAttempt(grants.filter((grant) => grant.swarm === swarm))
  const total: SwarmSpend = { spentUsd: 0, committedUsd: 0, grantedUsd: 0 }
  for (const view of views) {
    if (view.spec.swarm !== swarm) continue
    for (const attempt of view.attempts) {
      if (attempt.assignment.worker === null || utcDay(attempt.assignment.at) !== day) continue
      const given = granted(byAttempt.get(attemptKey(view.id, attempt.id)))
      const spent = spentBy(attempt)
      total.spentUsd += spent
      total.grantedUsd += given
      total.committedUsd += attempt.result !== undefined ? spent : Math.max(given, spent)
    }
  }
  return total
}

export interface GrantPlanInput {
  swarm: string
  leader: string
  term: number
  capUsd: number
  views: readonly TaskView[]
  grants: readonly Grant[]
  now: number
}

/** The allotments the leader writes now: top-ups for open attempts running low, or word that the cap is spent. */
export function planGrants (input: GrantPlanInput): Grant[] {
  const { swarm, term, capUsd, now } = input
  const day = utcDay(now)
  const mine = input.grants.filter((grant) => grant.swarm === swarm)
  const byAttempt = grantsByAttempt(mine)
  let remaining = capUsd - swarmSpend(swarm, input.views, mine, day).committedUsd
  let seq = Math.max(0, ...mine.filter((grant) => grant.term === term).map((grant) => grant.seq))
  const chunk = Math.max(MIN_GRANT_USD, capUsd * GRANT_FRACTION)
  const decisions: Grant[] = []
  const views = [...input.views].filter((view) => view.spec.swarm === swarm).sort((a, b) => a.spec.submittedAt - b.spec.submittedAt || (a.id < b.id ? -1 : 1))
  for (const view of views) {
    const current = view.current
    if (current === undefined || current.assignment.worker === null || current.result !== undefined || view.cancel !== undefined) continue
    const given = byAttempt.get(attemptKey(view.id, current.id)) ?? []
    const used = spentBy(current)
    const held = granted(given)
    if (held - used >= chunk / 2) continue
    const grant = { leader: input.leader, term, swarm, task: view.id, attempt: current.id, worker: current.assignment.worker, day, at: now }
    if (remaining < MIN_GRANT_USD) {
      if (given.some((previous) => previous.exhausted !== null && previous.term === term)) continue
      decisions.push({ ...grant, seq: ++seq, usd: 0, exhausted: `the daily spend cap of $${capUsd} for swarm '${swarm}' is spent` })
      continue
    }
    const usd = Math.min(used - held + chunk, remaining)
    remaining -= usd
    decisions.push({ ...grant, seq: ++seq, usd, exhausted: null })
  }
  return decisions
}
