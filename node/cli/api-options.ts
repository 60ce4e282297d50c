import type { Command } from 'commander'
import { DEFAULT_API } from './client.ts'
import { PeerflowClient } from './peerflow-client.ts'

export interface ReadOptions {
  api?: string
  json?: boolean
  token?: string
}

/** Adds the options every command that talks to a node shares. */
export function withApi (command: Command): Command {
  return command
    .option('--api <host:port>', `control API of the node to talk to (env PEERFLOW_API, default ${DEFAULT_API})`)
    .option('--json', 'print one JSON document')
    .option('--token <token>', 'bearer token of a control API bound beyond loopback (env PEERFLOW_API_TOKEN)')
}

export function clientFor (options: ReadOptions): PeerflowClient {
  return new PeerflowClient(options.api, { token: options.token ?? process.env.PEERFLOW_API_TOKEN })
}
