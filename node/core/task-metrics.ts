import { Gauge, type Registry } from 'prom-client'
import type { PeerflowNode } from './peerflow-node.ts'

/** Task-layer families, read at scrape time: tasks by state, pending approvals, loop iterations, today's spend against caps. */
export function registerTaskMetrics (registry: Registry, node: PeerflowNode): void {
  const registers = [registry]
  new Gauge({
    name: 'peerflow_tasks',
    help: 'Tasks this node knows, by state (waiting, input-required, submitted, assigned, running, done, failed, cancelled)',
    labelNames: ['state'],
    registers,
    collect () {
      this.reset()
      for (const task of node.tasks.list()) this.inc({ state: task.state })
    }
  })
  new Gauge({
    name: 'peerflow_approvals_pending',
    help: 'Tasks waiting in input-required for an approval decision',
    registers,
    collect () { this.set(node.tasks.list({ state: 'input-required' }).length) }
  })
  new Gauge({
    name: 'peerflow_loop_iterations',
    help: 'Loop iterations recorded, summed over the loop tasks this node knows',
    registers,
    collect () { this.set(node.tasks.list().reduce((sum, task) => sum + task.iterations, 0)) }
  })
  new Gauge({
    name: 'peerflow_spend_usd',
    help: 'Estimated model spend today (UTC) in USD, by swarm, and for this node (swarm="")',
    labelNames: ['swarm'],
    registers,
    collect () {
      this.reset()
      const budget = node.tasks.budget()
      for (const swarm of budget.swarms) this.set({ swarm: swarm.name }, swarm.spentUsd)
      this.set({ swarm: '' }, budget.nodes.find((entry) => entry.peer === node.peerId)?.spentUsd ?? 0)
    }
  })
  new Gauge({
    name: 'peerflow_spend_cap_usd',
    help: 'Daily spend cap in force per swarm in USD (absent: no cap)',
    labelNames: ['swarm'],
    registers,
    collect () {
      this.reset()
      for (const swarm of node.tasks.budget().swarms) if (swarm.effectiveCapUsd !== null) this.set({ swarm: swarm.name }, swarm.effectiveCapUsd)
    }
  })
}
