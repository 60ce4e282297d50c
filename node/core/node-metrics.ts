import { Counter, Gauge, type Registry } from 'prom-client'
import type { PeerflowNode } from './peerflow-node.ts'
import { transportOf } from '../net/transport-name.ts'
import { routeOf } from '../net/connection-route.ts'
import { registerTaskMetrics } from './task-metrics.ts'

/**
 * peerflow's own Prometheus families, read from live state at scrape time (libp2p's families are
 * registered in the same registry by @libp2p/prometheus-metrics).
 */
export function registerNodeMetrics (registry: Registry, node: PeerflowNode): void {
  const registers = [registry]

  new Gauge({
    name: 'peerflow_peers',
    help: 'Connected peers by transport',
    labelNames: ['transport'],
    registers,
    collect () {
      this.reset()
      for (const connection of node.host.getConnections()) this.inc({ transport: transportOf(connection.remoteAddr) })
    }
  })

  // NAT traversal (docs/NAT.md): read from the reachability monitor and the open connections.
  new Gauge({
    name: 'peerflow_reachability',
    help: '1 for the current reachability (public, private or unknown), 0 for the others',
    labelNames: ['state'],
    registers,
    collect () {
      for (const state of ['public', 'private', 'unknown']) this.set({ state }, node.nat.reachability === state ? 1 : 0)
    }
  })
  new Gauge({
    name: 'peerflow_relay_reservations',
    help: 'Relay slots held by this node (held) and, with --relay, granted to members (served)',
    labelNames: ['role'],
    registers,
    collect () {
      const status = node.nat.status()
      this.set({ role: 'held' }, status.reservations.length)
      this.set({ role: 'served' }, status.relayService.reservations.length)
    }
  })
  new Gauge({
    name: 'peerflow_connections_by_route',
    help: 'Open connections, direct or relayed (and whether the relay limits them)',
    labelNames: ['route', 'limited'],
    registers,
    collect () {
      this.reset()
      for (const connection of node.host.getConnections()) {
        const route = routeOf(connection)
        this.inc({ route: route.route, limited: String(route.limited) })
      }
    }
  })
  let upgradesSeen = 0
  new Counter({
    name: 'peerflow_direct_upgrades_total',
    help: 'Relayed connections replaced by direct ones (DCUtR or a direct dial)',
    registers,
    collect () {
      const now = node.nat.directUpgrades
      if (now > upgradesSeen) this.inc(now - upgradesSeen)
      upgradesSeen = now
    }
  })

  new Gauge({ name: 'peerflow_uptime_seconds', help: 'Seconds since the node started', registers, collect () { this.set((Date.now() - node.startedAt) / 1000) } })

  // Counters mirror monotonic totals kept by the replication layer.
  const seen = { gossipSent: 0, gossipReceived: 0, gossipRejected: 0, syncRounds: 0, syncBytesSent: 0, syncBytesReceived: 0 }
  const advance = (counter: Counter<string>, key: keyof typeof seen, labels: Record<string, string> = {}): void => {
    const now = node.replication.stats[key]
    if (now > seen[key]) counter.inc(labels, now - seen[key])
    seen[key] = now
  }
  new Counter({
    name: 'peerflow_gossip_messages_total',
    help: 'Memory gossip messages sent, received and rejected',
    labelNames: ['direction'],
    registers,
    collect () {
      advance(this, 'gossipSent', { direction: 'out' })
      advance(this, 'gossipReceived', { direction: 'in' })
      advance(this, 'gossipRejected', { direction: 'rejected' })
    }
  })
  new Counter({ name: 'peerflow_sync_rounds_total', help: 'Completed catch-up exchanges', registers, collect () { advance(this, 'syncRounds') } })
  new Counter({
    name: 'peerflow_sync_bytes_total',
    help: 'Catch-up protocol bytes by direction',
    labelNames: ['direction'],
    registers,
    collect () {
      advance(this, 'syncBytesSent', { direction: 'out' })
      advance(this, 'syncBytesReceived', { direction: 'in' })
    }
  })

  // Per namespace, so scoped replication's saving shows per node: a swarm this node is not in stays absent.
  const receivedSeen = new Map<string, number>()
  new Counter({
    name: 'peerflow_replication_received_bytes_total',
    help: 'Update bytes received per replicated-memory namespace, by path (gossip or sync)',
    labelNames: ['namespace', 'path'],
    registers,
    collect () {
      for (const [namespace, received] of node.replication.stats.receivedByNamespace) {
        for (const path of ['gossip', 'sync'] as const) {
          const key = `${path} ${namespace}`
          const now = received[path]
          const before = receivedSeen.get(key) ?? 0
          if (now > before) this.inc({ namespace, path }, now - before)
          receivedSeen.set(key, now)
        }
      }
    }
  })

  new Gauge({
    name: 'peerflow_memory_entries',
    help: 'Live entries per replicated-memory namespace',
    labelNames: ['namespace'],
    registers,
    collect () {
      this.reset()
      for (const info of node.memory.namespaces()) this.set({ namespace: info.name }, info.entries)
    }
  })
  new Gauge({
    name: 'peerflow_memory_bytes',
    help: 'Approximate bytes per replicated-memory namespace',
    labelNames: ['namespace'],
    registers,
    collect () {
      this.reset()
      for (const info of node.memory.namespaces()) this.set({ namespace: info.name }, info.bytes)
    }
  })

  new Gauge({
    name: 'peerflow_election_term',
    help: 'Current election term per swarm this node is a member of',
    labelNames: ['swarm'],
    registers,
    collect () {
      this.reset()
      for (const swarm of node.swarms.list()) if (swarm.self !== 'observer') this.set({ swarm: swarm.name }, swarm.term)
    }
  })
  new Gauge({
    name: 'peerflow_election_is_leader',
    help: '1 when this node leads the swarm',
    labelNames: ['swarm'],
    registers,
    collect () {
      this.reset()
      for (const swarm of node.swarms.list()) if (swarm.self !== 'observer') this.set({ swarm: swarm.name }, swarm.leader === node.peerId ? 1 : 0)
    }
  })
  const leaderChanges = new Counter({ name: 'peerflow_election_leader_changes_total', help: 'Leader changes seen by this node', labelNames: ['swarm'], registers })
  node.swarms.events.subscribe((event) => { if (event.type === 'leader-changed') leaderChanges.inc({ swarm: event.swarm }) })

  new Gauge({
    name: 'peerflow_patterns',
    help: 'ReasoningBank patterns known to this node',
    registers,
    collect () { this.set(node.patterns.stats().patterns) }
  })
  registerTaskMetrics(registry, node)
}
