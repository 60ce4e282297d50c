import type { Overview } from '../../api/types.ts'
import type { PeerflowClient } from '../peerflow-client.ts'
import { formatDuration, formatTable, shortPeerId } from '../output.ts'

const TASK_ROWS = 8
const ALTERNATE_SCREEN = '\x1b[?1049h\x1b[?25l'
const MAIN_SCREEN = '\x1b[?25h\x1b[?1049l'
const CLEAR = '\x1b[H\x1b[2J'

function bytes (count: number): string {
  if (count < 1024) return `${count} B`
  if (count < 1024 ** 2) return `${(count / 1024).toFixed(1)} KiB`
  return `${(count / 1024 ** 2).toFixed(1)} MiB`
}

function section (title: string, body: string): string {
  return `\n${title}\n${body}`
}

/** One screenful of the node's state, as plain text. */
export function renderOverview (overview: Overview, width: number): string {
  const { node, at } = overview
  const lines = [
    `peerflow ${node.version}  ${node.peerId}`,
    `up ${formatDuration(at - node.startedAt)} · admission ${node.admission} · API ${node.api} · ${new Date(at).toLocaleTimeString()} · Ctrl-C to quit`,
    section(`PEERS (${overview.peers.length})`, overview.peers.length === 0 ? 'no connected peers' : formatTable(overview.peers, [
      { header: 'peer', value: (peer) => shortPeerId(peer.peerId) },
      { header: 'transport', value: (peer) => peer.transport },
      { header: 'rtt', value: (peer) => peer.rttMs === null ? '-' : `${peer.rttMs} ms` },
      { header: 'admitted', value: (peer) => peer.admitted ? 'yes' : 'pending' },
      { header: 'dir', value: (peer) => peer.direction },
      { header: 'since', value: (peer) => formatDuration(at - peer.connectedSince) }
    ])),
    section(`SWARMS (${overview.swarms.length})`, overview.swarms.length === 0 ? 'none' : overview.swarms.map((swarm) => [
      `${swarm.name}  ${swarm.topology}  term ${swarm.term}  leader ${swarm.leader === null ? 'none (election)' : shortPeerId(swarm.leader)}  ${swarm.healthy}/${swarm.members.length} healthy`,
      ...swarm.members.map((member) => `  ${shortPeerId(member.peerId)}  ${member.state}${member.roles.length > 0 ? `  ${member.roles.join(',')}` : ''}`)
    ].join('\n')).join('\n')),
    section('MEMORY', overview.memory.length === 0 ? 'no namespaces' : formatTable(overview.memory, [
      { header: 'namespace', value: (ns) => ns.name },
      { header: 'entries', value: (ns) => String(ns.entries) },
      { header: 'size', value: (ns) => bytes(ns.bytes) },
      { header: 'last write', value: (ns) => ns.lastUpdate === null ? '-' : `${formatDuration(at - ns.lastUpdate)} ago` }
    ]))
  ]
  const tasks = overview.tasks
  if (tasks === null) {
    lines.push(section('TASKS', 'no task layer on this node'))
  } else {
    if (tasks.spend !== null && tasks.spend !== undefined) {
      const capped = (spent: number, cap: number | null): string => `$${spent.toFixed(2)}${cap === null ? '' : ` of $${cap.toFixed(2)}`}`
      lines.push(section(`SPEND TODAY  ${capped(tasks.spend.network.spentUsd, tasks.spend.network.capUsd)}`,
        tasks.spend.swarms.map((swarm) => `${swarm.name} ${capped(swarm.spentUsd, swarm.effectiveCapUsd)}`).join(' · ') || 'no swarms'))
    }
    const approvals = tasks.approvals ?? []
    if (approvals.length > 0) {
      lines.push(section(`APPROVALS PENDING  ${approvals.length} (peerflow task approve|reject <id>)`, formatTable(approvals.slice(0, TASK_ROWS), [
        { header: 'id', value: (task) => task.id },
        { header: 'swarm', value: (task) => task.swarm },
        { header: 'waiting', value: (task) => formatDuration(at - task.submittedAt) },
        { header: 'to approve', value: (task) => task.prompt.replace(/\s+/g, ' ') }
      ])))
    }
    const counts = Object.entries(tasks.counts).map(([state, count]) => `${state} ${count}`).join(' · ')
    lines.push(section(`TASKS${counts === '' ? '' : `  ${counts}`}`, tasks.recent.length === 0 ? 'none yet' : formatTable(tasks.recent.slice(0, TASK_ROWS), [
      { header: 'id', value: (task) => task.id },
      { header: 'state', value: (task) => task.state },
      { header: 'swarm', value: (task) => task.swarm },
      { header: 'role', value: (task) => task.role },
      { header: 'worker', value: (task) => task.assignee === null ? '-' : shortPeerId(task.assignee) },
      { header: 'time', value: (task) => formatDuration((task.finishedAt ?? at) - task.submittedAt) },
      { header: 'prompt', value: (task) => task.prompt.replace(/\s+/g, ' ') }
    ])))
  }
  // Wrapped lines would scroll the screen on every redraw.
  return lines.join('\n').split('\n').map((line) => line.length > width ? `${line.slice(0, width - 1)}…` : line).join('\n')
}

/**
 * Redraws the node's overview every `intervalMs` until SIGINT or SIGTERM. On a terminal it draws
 * on the alternate screen and restores the terminal on the way out; piped, it prints each frame.
 */
export async function watchStatus (client: PeerflowClient, out: NodeJS.WriteStream = process.stdout, intervalMs = 1_000): Promise<void> {
  const terminal = out.isTTY === true
  let stopped = false
  let wake = (): void => {}
  const stop = (): void => { stopped = true; wake() }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  if (terminal) out.write(ALTERNATE_SCREEN)
  try {
    while (!stopped) {
      let frame: string
      try {
        frame = renderOverview(await client.overview(), terminal ? out.columns : Number.POSITIVE_INFINITY)
      } catch (err) {
        frame = `${client.address}: ${(err as Error).message}\nretrying every ${intervalMs / 1000} s; Ctrl-C to quit`
      }
      if (stopped) break
      out.write(terminal ? `${CLEAR}${frame}` : `${frame}\n\n`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs)
        wake = () => { clearTimeout(timer); resolve() }
      })
    }
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    if (terminal) out.write(MAIN_SCREEN)
  }
}
