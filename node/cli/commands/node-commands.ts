import type { Command } from 'commander'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import type { StatusReply } from '../../api/types.ts'
import { CliError, NodeNotAnsweringError } from '../client.ts'
import { formatDuration, printJson, printTable, shortPeerId } from '../output.ts'
import { watchStatus } from './watch.ts'

type NatReply = StatusReply['nat']

const READY_WAIT_MS = 30_000

/** Retries while no node answers yet (a node started a moment ago); any other error ends at once. */
async function untilAnswered<T> (request: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + READY_WAIT_MS
  for (;;) {
    try {
      return await request()
    } catch (err) {
      if (!(err instanceof NodeNotAnsweringError) || Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

/** The NAT traversal part of `status`: reachability, relay slots held and served, UPnP mappings. */
function natLines (nat: NatReply): string[] {
  const lines = [`reachability: ${nat.reachability} (${nat.reason})`]
  for (const reservation of nat.reservations) lines.push(`relay reservation: ${shortPeerId(reservation.relay)} -> ${reservation.addrs[0] ?? ''}`)
  if (nat.reservations.length === 0 && nat.reachability === 'private') lines.push('relay reservation: none yet')
  if (nat.relayService.enabled) {
    const limits = nat.relayService.limits === null ? 'no limits' : `limits ${nat.relayService.limits.durationMs} ms / ${nat.relayService.limits.dataBytes} bytes`
    lines.push(`relay service: ${nat.relayService.reservations.length}/${nat.relayService.maxReservations} reservations (members only, ${limits})`)
  }
  if (nat.upnp.enabled) {
    lines.push(nat.upnp.mappings.length === 0 ? 'UPnP: no mapping yet' : `UPnP: ${nat.upnp.mappings.map((m) => `${m.addr}${m.verified ? '' : ' (unconfirmed)'}`).join(', ')}`)
  }
  return lines
}

/** id, status, peers, join, leave: the node's own commands. */
export function registerNodeCommands (program: Command): void {
  withApi(program.command('id').description("this node's PeerId and addresses"))
    .action(async (options: ReadOptions) => {
      const reply = await clientFor(options).id()
      if (options.json === true) return printJson(reply)
      process.stdout.write(`${reply.peerId}\n${reply.addresses.map((addr) => `  ${addr}`).join('\n')}\n`)
    })

  withApi(program.command('status').description('uptime, listen addresses, peer count, data dir, version'))
    .option('--watch', 'redraw peers, swarms, memory and tasks every second until Ctrl-C')
    .option('--wait', `wait up to ${READY_WAIT_MS / 1000} s for a node that is still starting to answer`)
    .action(async (options: ReadOptions & { watch?: boolean, wait?: boolean }) => {
      if (options.watch === true) {
        if (options.json === true) throw new CliError('--watch draws a live view; for machine output poll `peerflow status --json` or read GET /events', 2)
        return watchStatus(clientFor(options))
      }
      const client = clientFor(options)
      const reply = options.wait === true ? await untilAnswered(async () => client.status()) : await client.status()
      if (options.json === true) return printJson(reply)
      const lines = [
        `peerflow ${reply.version} (Node ${reply.nodeVersion})`,
        `PeerId:    ${reply.peerId}`,
        `uptime:    ${formatDuration(reply.uptimeMs)}`,
        `peers:     ${reply.peerCount}`,
        `data dir:  ${reply.dataDir}`,
        `api:       ${reply.api}`,
        'listening:',
        ...reply.listen.map((addr) => `  ${addr}`),
        ...(reply.nat === undefined ? [] : natLines(reply.nat))
      ]
      process.stdout.write(`${lines.join('\n')}\n`)
    })

  withApi(program.command('peers').description('connected peers: PeerId, address, transport, latency'))
    .action(async (options: ReadOptions) => {
      const reply = await clientFor(options).peers.list()
      if (options.json === true) return printJson(reply)
      printTable(reply.peers, [
        { header: 'peer', value: (peer) => shortPeerId(peer.peerId) },
        { header: 'admitted', value: (peer) => peer.admitted === true ? 'yes' : 'pending' },
        { header: 'transport', value: (peer) => peer.transport },
        { header: 'route', value: (peer) => peer.route === 'relayed' ? `relayed${peer.limited === true ? ', limited' : ''} via ${shortPeerId(peer.relay ?? '?')}` : 'direct' },
        { header: 'rtt', value: (peer) => peer.rttMs === null ? '-' : `${peer.rttMs} ms` },
        { header: 'dir', value: (peer) => peer.direction },
        { header: 'since', value: (peer) => formatDuration(Date.now() - peer.connectedSince) },
        { header: 'address', value: (peer) => peer.address }
      ], 'no connected peers')
      if (reply.refused.length > 0) {
        process.stdout.write(`\nrefused attempts (admission: ${reply.admission}):\n`)
        printTable(reply.refused, [
          { header: 'peer', value: (r) => shortPeerId(r.peerId) },
          { header: 'when', value: (r) => `${formatDuration(Date.now() - r.at)} ago` },
          { header: 'reason', value: (r) => r.reason },
          { header: 'detail', value: (r) => r.detail },
          { header: 'address', value: (r) => r.address }
        ], '')
      }
    })

  withApi(program.command('join').argument('<multiaddr>', 'address of a peer, e.g. /ip4/10.0.0.5/udp/4433/quic-v1/p2p/12D3Koo…')
    .description('ask the running node to connect to a peer (and keep it connected)'))
    .action(async (addr: string, options: ReadOptions) => {
      if (!addr.startsWith('/')) throw new CliError(`malformed multiaddr '${addr}': a multiaddr starts with '/'`, 2)
      const reply = await clientFor(options).peers.join(addr)
      if (options.json === true) return printJson(reply)
      process.stdout.write(`connected to ${reply.peerId} over ${reply.transport} (${reply.address})\n`)
    })

  withApi(program.command('leave').argument('<peerId>', 'PeerId to disconnect from').description('disconnect from a peer and stop redialling it'))
    .action(async (peerId: string, options: ReadOptions) => {
      const reply = await clientFor(options).peers.leave(peerId)
      if (options.json === true) return printJson(reply)
      process.stdout.write(reply.disconnected ? `disconnected from ${peerId}\n` : `${peerId} was not connected; it will not be redialled\n`)
    })

  withApi(program.command('block').argument('<peerId>').description('refuse all connections with a peer (until unblock or restart)'))
    .action(async (peerId: string, options: ReadOptions) => {
      const reply = await clientFor(options).peers.block(peerId)
      if (options.json === true) return printJson(reply)
      process.stdout.write(`blocked ${peerId}\n`)
    })

  withApi(program.command('unblock').argument('<peerId>').description('allow a blocked peer again'))
    .action(async (peerId: string, options: ReadOptions) => {
      const reply = await clientFor(options).peers.unblock(peerId)
      if (options.json === true) return printJson(reply)
      process.stdout.write(reply.unblocked ? `unblocked ${peerId}\n` : `${peerId} was not blocked\n`)
    })

  withApi(program.command('allow').argument('<peerId>').description('add a PeerId to the replicated allowlist (once it has entries, only listed peers are admitted)'))
    .action(async (peerId: string, options: ReadOptions) => {
      const reply = await clientFor(options).peers.allow(peerId)
      if (options.json === true) return printJson(reply)
      process.stdout.write(`allowed ${peerId}; the allowlist has ${reply.allowlist.length} entries (this node is always allowed)\n`)
    })

  withApi(program.command('disallow').argument('<peerId>').description('remove a PeerId from the allowlist'))
    .action(async (peerId: string, options: ReadOptions) => {
      const reply = await clientFor(options).peers.disallow(peerId)
      if (options.json === true) return printJson(reply)
      process.stdout.write(reply.removed ? `removed ${peerId} from the allowlist\n` : `${peerId} was not on the allowlist\n`)
    })
}
