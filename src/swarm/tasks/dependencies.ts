import type { TaskView } from './task-view.ts'

/**
 * Tasks with `after`: a task that has not started waits until every task it names is done, and
 * fails when one of them fails or is cancelled. Pure: it reads the other tasks' views, so it runs
 * over all the views of a pass (a dependency's own wait counts).
 */

const GATED = new Set(['submitted', 'input-required'])

/** Applies every task's dependencies; views without any come back as they are. */
export function applyDependencies (views: ReadonlyMap<string, TaskView>): Map<string, TaskView> {
  const gated = new Map<string, TaskView>()
  const visiting = new Set<string>()
  const resolve = (id: string): TaskView | undefined => {
    const known = gated.get(id)
    if (known !== undefined) return known
    const view = views.get(id)
    // A cycle can only come from records nobody submitted through this code: treat it as unfinished.
    if (view === undefined || visiting.has(id)) return undefined
    visiting.add(id)
    const result = gate(view, resolve)
    visiting.delete(id)
    gated.set(id, result)
    return result
  }
  for (const id of views.keys()) resolve(id)
  return gated
}

function gate (view: TaskView, lookup: (id: string) => TaskView | undefined): TaskView {
  const after = view.spec.after ?? []
  if (after.length === 0 || view.current !== undefined || !GATED.has(view.state)) return view
  const pending: string[] = []
  for (const id of after) {
    const dependency = lookup(id)
    if (dependency?.state === 'failed' || dependency?.state === 'cancelled') {
      const reason = dependency.error === undefined ? '' : `: ${dependency.error}`
      const { next: _next, ...rest } = view
      return { ...rest, state: 'failed', error: `dependency ${id} ${dependency.state}${reason}` }
    }
    if (dependency?.state !== 'done') pending.push(id)
  }
  if (pending.length === 0) return view
  const { next: _next, ...rest } = view
  return { ...rest, state: 'waiting', blockedBy: pending }
}
