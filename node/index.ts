/**
 * peerflow as a library: `startNode` runs a node inside this process, `connect` gives a typed client
 * of a running node's control API. Request and reply types are the control API's own (api/types.ts).
 */
import { PeerflowError } from '../crdt/peerflow-error.ts'
import type { ConfigLayer } from './config/config.ts'
import type { PeerflowNode } from './core/peerflow-node.ts'
import type { Logger } from './core/logger.ts'

export { PeerflowError, type ErrorKind } from '../crdt/peerflow-error.ts'
export { ApiError } from './cli/client.ts'
export {
  connect, PeerflowClient, TERMINAL_TASK_STATES,
  type ConnectOptions, type MemoryPutOptions, type PatternQuery, type TaskEvent, type WaitOptions, type WatchOptions
} from './cli/peerflow-client.ts'
export type * from './api/types.ts'
export type { NodeConfig, ConfigLayer } from './config/config.ts'
export type { PeerflowNode } from './core/peerflow-node.ts'

/** A node's settings: `dataDir` and whatever differs from the defaults (README, Configuration). */
export type StartNodeConfig = ConfigLayer & { dataDir: string }

export interface StartNodeOptions {
  /** A pino logger; default: JSON lines on stderr at the config's `logLevel`. */
  log?: Logger
}

/**
 * Starts a node in this process: settings are `config` over `peerflow.json` in its data dir over
 * the defaults (the environment is not read). Resolves once it listens; `node.stop()` stops it.
 * An invalid setting fails with a PeerflowError of kind 'invalid' naming the field.
 */
export async function startNode (config: StartNodeConfig, options: StartNodeOptions = {}): Promise<PeerflowNode> {
  // Loaded on first use: a program that only connects to a node never loads libp2p.
  const { ConfigError, resolveConfig } = await import('./config/config.ts')
  const { createNode } = await import('./app.ts')
  let resolved
  try {
    resolved = await resolveConfig({ flags: config, env: {} })
  } catch (err) {
    if (err instanceof ConfigError) throw new PeerflowError('invalid', err.message)
    throw err
  }
  return createNode(resolved, options)
}
