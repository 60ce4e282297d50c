import { grantKey, networkBudgetKey, swarmBudgetKey } from './keys.ts'
import type { SwarmDirectory, TaskStore } from './ports.ts'
import type { RecordIndex } from './record-index.ts'
import type { BudgetSetting, Grant } from './records.ts'
import { effectiveCap, planGrants, spentBy, standingSetting, swarmSpend, utcDay } from './spend-ledger.ts'
import { TaskError } from './task-error.ts'
import type { TaskView } from './task-view.ts'

/**
 * This node's part in the daily spend caps: as a leader, it writes allotments for the swarms it
 * leads; as a worker, it accepts allotments from leaders that are not stale and lets an attempt
 * spend only what it holds, under this node's own daily cap as well.
 */

export interface SpendCapsOptions {
  self: string
  store: TaskStore
  swarms: SwarmDirectory
  /** This node's own daily cap (USD), if any. */
  nodeDailyUsd: number | null
  /** How long an attempt waits for an allotment before it fails (retryable). */
  grantWaitMs: number
  now: () => number
}

export interface BudgetReport {
  day: string
  network: { capUsd: number | null, setBy: string | null, spentUsd: number }
  swarms: Array<{ name: string, capUsd: number | null, effectiveCapUsd: number | null, spentUsd: number, committedUsd: number, grantedUsd: number }>
  nodes: Array<{ peer: string, spentUsd: number, capUsd: number | null }>
  tasks: Array<{ id: string, swarm: string, state: string, budgetUsd: number, spentUsd: number }>
}

export type BudgetScope = { scope: 'swarm', swarm: string } | { scope: 'network' }

const GRANT_POLL_MS = 25
/** Grants only matter for the day they were made in. */
const GRANT_RETENTION_MS = 2 * 86_400_000

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

export class SpendCaps {
  readonly #options: SpendCapsOptions
  /** Allotments this node's attempts may spend, by record key: accepted once, when their term was current. */
  readonly #accepted = new Map<string, Grant>()
  #index: RecordIndex = { tasks: new Map(), workers: new Map(), grants: [], budgets: [] }
  #views: readonly TaskView[] = []

  constructor (options: SpendCapsOptions) {
    this.#options = options
  }

  /** Every pass: the records as they are now, and the allotments addressed here that a current leader made. */
  observe (index: RecordIndex, views: readonly TaskView[]): void {
    this.#index = index
    this.#views = views
    for (const grant of index.grants) {
      if (grant.worker !== this.#options.self) continue
      const key = grantKey(grant.swarm, grant.term, grant.seq)
      if (this.#accepted.has(key)) continue
      const seat = this.#options.swarms.seat(grant.swarm)
      // Term fencing: a deposed leader's late allotment is never spent.
      if (seat !== undefined && !seat.isStale(grant.term)) this.#accepted.set(key, grant)
    }
  }

  /** The swarm's cap for today, or null when neither it nor the network has one. */
  capOf (swarm: string): number | null {
    const setting = (scope: string | null): BudgetSetting | undefined =>
      standingSetting(this.#index.budgets.filter((budget) => budget.swarm === scope).map((budget) => budget.setting))
    return effectiveCap(setting(swarm)?.dailyUsd ?? null, setting(null)?.dailyUsd ?? null, this.#options.swarms.definitions().length)
  }

  /** Leader side: the allotments to write for a swarm this node leads in `term`. */
  grantsFor (swarm: string, term: number): Array<Promise<void>> {
    const capUsd = this.capOf(swarm)
    if (capUsd === null) return []
    const grants = planGrants({ swarm, leader: this.#options.self, term, capUsd, views: this.#views, grants: this.#index.grants, now: Date.now() })
    return grants.map(async (grant) => { await this.#options.store.put(grantKey(swarm, term, grant.seq), grant, GRANT_RETENTION_MS) })
  }

  /**
   * Worker side, before every model call of an attempt: how much more it may spend. Waits (up to
   * `grantWaitMs`) for an allotment when it holds none; rejects when a cap is spent.
   */
  async gate (task: string, attempt: string, swarm: string, spentUsd: number, signal: AbortSignal): Promise<number> {
    const deadline = this.#options.now() + this.#options.grantWaitMs
    for (;;) {
      const nodeLeft = this.#nodeLeft(task, attempt, spentUsd)
      if (nodeLeft <= 0) throw new Error(`budget exceeded: this node's daily spend cap of $${this.#options.nodeDailyUsd} is spent`)
      const capUsd = this.capOf(swarm)
      if (capUsd === null) return nodeLeft
      let held = 0
      let exhausted: string | null = null
      for (const grant of this.#accepted.values()) {
        if (grant.task !== task || grant.attempt !== attempt) continue
        held += grant.usd
        exhausted = grant.exhausted ?? exhausted
      }
      if (spentUsd < held) return Math.min(held - spentUsd, nodeLeft)
      if (exhausted !== null) throw new Error(`budget exceeded: ${exhausted}`)
      if (this.#options.now() >= deadline) {
        throw new Error(`no spend allotment from the leader of swarm '${swarm}' within ${this.#options.grantWaitMs} ms (daily cap $${capUsd}); is the leader reachable?`)
      }
      await sleep(GRANT_POLL_MS, signal)
    }
  }

  #nodeLeft (task: string, attempt: string, spentUsd: number): number {
    const cap = this.#options.nodeDailyUsd
    if (cap === null) return Number.POSITIVE_INFINITY
    const today = utcDay(Date.now())
    let others = 0
    for (const view of this.#views) {
      for (const other of view.attempts) {
        if (other.assignment.worker !== this.#options.self || utcDay(other.assignment.at) !== today) continue
        if (view.id === task && other.id === attempt) continue
        others += spentBy(other)
      }
    }
    return cap - others - spentUsd
  }

  async set (target: BudgetScope, dailyUsd: number | null): Promise<void> {
    if (dailyUsd !== null && (!Number.isFinite(dailyUsd) || dailyUsd < 0)) throw new TaskError('invalid', `a daily cap is an amount in USD of 0 or more, got ${dailyUsd}`)
    if (target.scope === 'swarm' && this.#options.swarms.definition(target.swarm) === undefined) throw new TaskError('invalid', `unknown swarm '${target.swarm}'`)
    const setting: BudgetSetting = { dailyUsd, by: this.#options.self, at: Date.now() }
    const key = target.scope === 'swarm' ? swarmBudgetKey(target.swarm, this.#options.self) : networkBudgetKey(this.#options.self)
    // A cap stays until it is changed or lifted: no TTL.
    await this.#options.store.put(key, setting)
  }

  report (views: readonly TaskView[], index: RecordIndex): BudgetReport {
    this.observe(index, views)
    const day = utcDay(Date.now())
    const network = standingSetting(index.budgets.filter((budget) => budget.swarm === null).map((budget) => budget.setting))
    const byNode = new Map<string, number>()
    let networkSpent = 0
    for (const view of views) {
      for (const attempt of view.attempts) {
        const worker = attempt.assignment.worker
        if (worker === null || utcDay(attempt.assignment.at) !== day) continue
        byNode.set(worker, (byNode.get(worker) ?? 0) + spentBy(attempt))
        networkSpent += spentBy(attempt)
      }
    }
    if (!byNode.has(this.#options.self)) byNode.set(this.#options.self, 0)
    return {
      day,
      network: { capUsd: network?.dailyUsd ?? null, setBy: network?.by ?? null, spentUsd: networkSpent },
      swarms: this.#options.swarms.definitions().map((definition) => {
        const own = standingSetting(index.budgets.filter((budget) => budget.swarm === definition.name).map((budget) => budget.setting))
        return { name: definition.name, capUsd: own?.dailyUsd ?? null, effectiveCapUsd: this.capOf(definition.name), ...swarmSpend(definition.name, views, index.grants, day) }
      }),
      nodes: [...byNode].map(([peer, spentUsd]) => ({ peer, spentUsd, capUsd: peer === this.#options.self ? this.#options.nodeDailyUsd : null })),
      tasks: views.flatMap((view) => {
        const budgetUsd = view.spec.loop?.budgetUsd ?? view.spec.budget.maxCostUsd ?? null
        if (budgetUsd === null) return []
        let spentUsd = 0
        for (const attempt of view.attempts) spentUsd += spentBy(attempt)
        return [{ id: view.id, swarm: view.spec.swarm, state: view.state, budgetUsd, spentUsd }]
      })
    }
  }
}
