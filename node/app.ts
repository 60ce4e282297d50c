import { ApiServer } from './api/server.ts'
import { routes } from './api/routes/index.ts'
import type { NodeConfig } from './config/config.ts'
import { createLogger, type Logger } from './core/logger.ts'
import { registerNodeMetrics } from './core/node-metrics.ts'
import { PeerflowNode } from './core/peerflow-node.ts'

export interface StartOptions {
  log?: Logger
}

/**
 * The composition root: a node with its control API and metrics. The core node knows neither; it
 * serves whatever control endpoint it is handed once everything else runs.
 */
export async function createNode (config: NodeConfig, options: StartOptions = {}): Promise<PeerflowNode> {
  const log = options.log ?? createLogger(config.logLevel)
  return PeerflowNode.start(config, {
    log,
    control: (node) => {
      registerNodeMetrics(node.metrics, node)
      return new ApiServer(node, routes, log.child({ component: 'api' }))
    }
  })
}
