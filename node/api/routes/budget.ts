import { PeerflowError } from '../../../crdt/index.ts'
import type { BudgetScope } from '../../../src/swarm/tasks/spend-caps.ts'
import type { Route } from '../route.ts'

/** Daily caps and today's spend per task, swarm, network and node. */
export const budgetShowRoute: Route = {
  method: 'GET',
  path: '/budget',
  handle: ({ node }) => node.tasks.budget()
}

function scopeOf (body: unknown): BudgetScope {
  const fields = (body ?? {}) as { scope?: unknown, swarm?: unknown }
  if (fields.scope === 'network') return { scope: 'network' }
  if (fields.scope === 'swarm' && typeof fields.swarm === 'string' && fields.swarm !== '') return { scope: 'swarm', swarm: fields.swarm }
  throw new PeerflowError('invalid', "scope must be 'network', or 'swarm' with a swarm name")
}

/** Sets a daily cap; `dailyUsd: null` lifts it. */
export const budgetSetRoute: Route = {
  method: 'POST',
  path: '/budget',
  handle: async ({ node, body }) => {
    const dailyUsd = (body as { dailyUsd?: unknown } | null)?.dailyUsd
    if (dailyUsd !== null && typeof dailyUsd !== 'number') throw new PeerflowError('invalid', 'dailyUsd must be a number (or null to lift the cap)')
    return node.tasks.setBudget(scopeOf(body), dailyUsd)
  }
}
