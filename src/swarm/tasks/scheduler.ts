import type { SwarmDefinition } from '../../../protocols/swarm.ts'
import { chooseClaimant, type SeenClaim } from './claims.ts'
import type { Assignment, Claim } from './records.ts'
import { attemptsAtStage, type Attempt, type NextStep, type TaskView } from './task-view.ts'
import { chooseWorker, type Candidate, type Outcomes } from './worker-choice.ts'

/**
 * The leader's scheduling pass for one swarm, as a pure function of its view: which attempts to
 * create. Time and liveness come in as inputs, so the policy can be simulated.
 */

export interface SchedulerTiming {
  /** An attempt with no sign of life for this long is given to another member. */
  workerTimeoutMs: number
  /**
   * ...or after this much shorter wait when its worker is not even connected, or when an earlier
   * leader made the assignment and the worker never took it up (workers ignore stale terms).
   */
  graceMs: number
  /**
   * A leader of a later term than the first places and moves nothing for this long after taking over:
   * the previous leader's last assignments may still be on their way, and placing such a task again
   * would run it twice.
   */
  settleMs: number
}

export interface SchedulerInput {
  swarm: SwarmDefinition
  leader: string
  term: number
  /** Every task this node knows, of every swarm: loads span swarms. */
  views: readonly TaskView[]
  /** Published agent capacity per member. */
  capacities: ReadonlyMap<string, number>
  alive: (peer: string) => boolean
  /** Milliseconds since the leader last saw the attempt assigned or its progress change. */
  silentForMs: (taskId: string, attemptId: string) => number
  /** When the leader first saw the claim, on its own clock. */
  claimSeenAt: (taskId: string, peer: string, claim: Claim) => number
  timing: SchedulerTiming
  /** How long this node has led `term`, on its own clock. */
  leadingForMs: number
  now: number
}

export interface Decision {
  task: string
  assignment: Assignment
}

/** An attempt given to a worker that has not ended yet (whatever the task's state). */
function isOpen (attempt: Attempt | undefined): attempt is Attempt & { assignment: { worker: string } } {
  return attempt !== undefined && attempt.assignment.worker !== null && attempt.result === undefined
}

export function loadByWorker (views: readonly TaskView[]): Map<string, number> {
  const load = new Map<string, number>()
  for (const view of views) {
    if (isOpen(view.current)) load.set(view.current.assignment.worker, (load.get(view.current.assignment.worker) ?? 0) + 1)
  }
  return load
}

/** Outcomes per member for one role, over every recorded attempt. */
function outcomesFor (views: readonly TaskView[], role: string): Map<string, Outcomes> {
  const outcomes = new Map<string, Outcomes>()
  for (const view of views) {
    for (const attempt of view.attempts) {
      const { worker, stage } = attempt.assignment
      if (worker === null || attempt.result === undefined || attempt.result.status === 'cancelled' || view.spec.stages[stage] !== role) continue
      const record = outcomes.get(worker) ?? { successes: 0, failures: 0 }
      if (attempt.result.status === 'done') record.successes++
      else record.failures++
      outcomes.set(worker, record)
    }
  }
  return outcomes
}

function nextNumber (view: TaskView): number {
  return Math.max(0, ...view.attempts.map((attempt) => attempt.ref.n)) + 1
}

/** The new attempts this leader should write now, oldest task first. */
export function planAssignments (input: SchedulerInput): Decision[] {
  const { swarm, views, timing } = input
  if (input.term > 1 && input.leadingForMs < timing.settleMs) return []
  const load = loadByWorker(views)
  const candidates = (): Candidate[] => swarm.members.map((peer) => ({
    peer,
    roles: swarm.roles[peer] ?? [],
    capacity: input.capacities.get(peer) ?? 0,
    load: load.get(peer) ?? 0,
    alive: input.alive(peer)
  }))
  const mine = views
    .filter((view) => view.spec.swarm === swarm.name)
    .sort((a, b) => a.spec.submittedAt - b.spec.submittedAt || (a.id < b.id ? -1 : 1))
  let active = mine.filter((view) => isOpen(view.current)).length
  const decisions: Decision[] = []
  const assign = (view: TaskView, stage: number, worker: string | null, fields: Pick<Assignment, 'inputFrom' | 'reason'> & { error?: string }): void => {
    decisions.push({
      task: view.id,
      assignment: { term: input.term, n: nextNumber(view), stage, worker, leader: input.leader, at: input.now, ...fields }
    })
    if (worker !== null) load.set(worker, (load.get(worker) ?? 0) + 1)
  }
  const choose = (view: TaskView, step: Pick<NextStep, 'stage' | 'avoid' | 'ringAfter'>): string | undefined => chooseWorker({
    topology: swarm.topology,
    taskId: view.id,
    role: view.spec.stages[step.stage] as string,
    step,
    candidates: candidates(),
    ...(swarm.topology === 'adaptive' ? { history: outcomesFor(views, view.spec.stages[step.stage] as string) } : {})
  })

  // Recovery first: a lost worker's slot is freed before new work is placed.
  for (const view of mine) {
    const current = view.current
    if (view.state === 'cancelled' || !isOpen(current)) continue
    const worker = current.assignment.worker
    const silentFor = input.silentForMs(view.id, current.id)
    const unreachable = !input.alive(worker)
    const neverTakenUp = current.progress === undefined && current.assignment.term < input.term
    const timedOut = silentFor > timing.workerTimeoutMs
    const lost = timedOut || ((unreachable || neverTakenUp) && silentFor > timing.graceMs)
    if (!lost) continue
    const { stage, inputFrom } = current.assignment
    const how = unreachable ? 'is unreachable' : neverTakenUp ? `never took up term ${current.assignment.term}'s assignment` : 'stopped reporting'
    const why = `worker ${worker} ${how} (silent for ${Math.round(silentFor)} ms)`
    if (attemptsAtStage(view, stage) >= view.spec.maxAttempts) {
      // Nowhere to move it: a worker only briefly out of reach may still finish, so give up after the full timeout.
      if (!timedOut) continue
      load.set(worker, (load.get(worker) ?? 1) - 1)
      assign(view, stage, null, { inputFrom, reason: 'abandoned', error: `${why}, and all ${view.spec.maxAttempts} attempts are used` })
      continue
    }
    const replacement = choose(view, { stage, avoid: [worker], ringAfter: worker })
    if (replacement === undefined || replacement === worker) continue
    load.set(worker, (load.get(worker) ?? 1) - 1)
    assign(view, stage, replacement, { inputFrom, reason: 'reassigned' })
  }

  for (const view of mine) {
    if (view.state !== 'submitted' || view.next === undefined) continue
    if (active >= swarm.maxAgents) break
    const step = view.next
    let worker: string | undefined
    if (swarm.topology === 'mesh') {
      const claims: SeenClaim[] = [...view.claims].map(([peer, claim]) => ({ peer, claim, seenAt: input.claimSeenAt(view.id, peer, claim) }))
      worker = chooseClaimant(claims, step.after, view.spec.stages[step.stage] as string, candidates(), step.avoid)
    } else {
      worker = choose(view, step)
    }
    if (worker === undefined) continue
    assign(view, step.stage, worker, { inputFrom: step.inputFrom, reason: swarm.topology === 'mesh' ? 'claimed' : step.reason })
    active++
  }
  return decisions
}
