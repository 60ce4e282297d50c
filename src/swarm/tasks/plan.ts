import { TaskError } from './task-error.ts'

/**
 * A plan: several tasks submitted together, naming each other in `after` by their plan refs. It must
 * be a DAG; it is submitted in an order where every task comes after the tasks it waits for.
 */

export const MAX_PLAN_STEPS = 32

export interface PlanStep {
  /** The step's name within the plan. */
  ref: string
  prompt: string
  role?: string
  /** Refs of other steps, or ids of tasks that exist already. */
  after?: string[]
  approve?: boolean
}

/** The steps in submission order; refuses duplicate refs, unknown names and cycles. */
export function orderPlan (steps: readonly PlanStep[], isKnownTask: (id: string) => boolean): PlanStep[] {
  if (steps.length === 0 || steps.length > MAX_PLAN_STEPS) throw new TaskError('invalid', `a plan has 1 to ${MAX_PLAN_STEPS} steps`)
  const byRef = new Map<string, PlanStep>()
  for (const step of steps) {
    if (step.ref.trim() === '') throw new TaskError('invalid', 'every plan step needs a ref')
    if (byRef.has(step.ref)) throw new TaskError('invalid', `plan step '${step.ref}' appears twice`)
    byRef.set(step.ref, step)
  }
  for (const step of steps) {
    for (const name of step.after ?? []) {
      if (!byRef.has(name) && !isKnownTask(name)) throw new TaskError('invalid', `plan step '${step.ref}' waits for '${name}', which is neither a step of the plan nor a known task`)
    }
  }
  const ordered: PlanStep[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (step: PlanStep, path: string[]): void => {
    const seen = state.get(step.ref)
    if (seen === 'done') return
    if (seen === 'visiting') throw new TaskError('invalid', `the plan has a cycle: ${[...path.slice(path.indexOf(step.ref)), step.ref].join(' -> ')}`)
    state.set(step.ref, 'visiting')
    for (const name of step.after ?? []) {
      const dependency = byRef.get(name)
      if (dependency !== undefined) visit(dependency, [...path, step.ref])
    }
    state.set(step.ref, 'done')
    ordered.push(step)
  }
  for (const step of steps) visit(step, [])
  return ordered
}
