import type { Command } from 'commander'
import type { StartFlags } from './run-start.ts'

function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

export function registerStartCommand (program: Command): void {
  program.command('start')
    .description('run a node in the foreground')
    .option('--data <dir>', 'data directory (env PEERFLOW_DATA, default ~/.peerflow)')
    .option('--listen <multiaddr>', 'listen address, repeatable (default /ip4/0.0.0.0/udp/4433/quic-v1 and /ip4/0.0.0.0/tcp/4433)', collect)
    .option('--api <host:port>', 'control API address (default 127.0.0.1:7433)')
    .option('--bootstrap <multiaddr>', 'bootstrap peer ending in /p2p/<PeerId>, repeatable (replaces the list file)', collect)
    .option('--bootstrap-file <path>', 'JSON list of bootstrap multiaddrs (default: the bootstrap.json shipped with peerflow)')
    .option('--mdns', 'discover peers on the local network with mDNS')
    .option('--no-quic', 'disable the QUIC transport')
    .option('--no-tcp', 'disable the TCP transport')
    .option('--relay', 'serve as a circuit relay for admitted members (for a publicly reachable node; env PEERFLOW_RELAY)')
    .option('--upnp', 'ask the router to forward our ports over UPnP (env PEERFLOW_UPNP)')
    .option('--announce <multiaddr>', 'public address to advertise besides the listen ones, e.g. a port forwarded on the NAT; repeatable', collect)
    .option('--max-connections <n>', 'peer exchange dials learned peers up to this many connections (default 50)')
    .option('--network-secret-file <path>', 'join the network whose secret this file holds (see `peerflow network init`); without it, open mode')
    .option('--max-agents <n>', 'agents this node runs at once for swarm tasks (env PEERFLOW_MAX_AGENTS, default 2)')
    .option('--embedder <kind>', "ReasoningBank embedder: 'use' (semantic, default) or 'hash' (lexical, fast, not semantic)")
    .option('--log-level <level>', 'trace | debug | info | warn | error | silent (default info)')
    .action(async (flags: StartFlags, command: Command) => {
      // Loaded only here: config validation and the node itself are not needed by any other command.
      const { runStart } = await import('./run-start.ts')
      await runStart(flags, command)
    })
}
