import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { readBootstrapFile, validateBootstrap } from '../config/bootstrap-list.ts'
import { ConfigError, resolveConfig, type ConfigLayer, type NodeConfig } from '../config/config.ts'
import { IdleMemorySaver } from '../core/idle-memory-saver.ts'

const EMBEDDED_BOOTSTRAP = fileURLToPath(new URL('../../bootstrap.json', import.meta.url))

export interface StartFlags {
  data?: string
  listen?: string[]
  api?: string
  bootstrap?: string[]
  bootstrapFile?: string
  mdns?: boolean
  quic?: boolean
  tcp?: boolean
  relay?: boolean
  upnp?: boolean
  announce?: string[]
  maxConnections?: string
  maxAgents?: string
  logLevel?: string
  embedder?: string
  networkSecretFile?: string
}


/** Only what the user typed: commander's own defaults must not outrank env and the config file. */
function flagLayer (command: Command, flags: StartFlags): ConfigLayer {
  const given = (name: keyof StartFlags): boolean => command.getOptionValueSource(name) === 'cli'
  const layer: Record<string, unknown> = {}
  if (given('data')) layer.dataDir = flags.data
  if (given('listen')) layer.listen = flags.listen
  if (given('api')) layer.api = flags.api
  if (given('bootstrap')) layer.bootstrap = flags.bootstrap
  if (given('mdns')) layer.mdns = flags.mdns
  if (given('quic')) layer.quic = flags.quic
  if (given('tcp')) layer.tcp = flags.tcp
  if (given('relay')) layer.relay = flags.relay
  if (given('upnp')) layer.upnp = flags.upnp
  if (given('announce')) layer.announce = flags.announce
  if (given('logLevel')) layer.logLevel = flags.logLevel
  if (given('embedder')) layer.embedder = flags.embedder
  if (given('networkSecretFile')) layer.networkSecretFile = flags.networkSecretFile
  if (given('maxConnections')) {
    const value = Number(flags.maxConnections)
    if (!Number.isInteger(value)) throw new ConfigError('maxConnections', `expected an integer, got '${flags.maxConnections}'`)
    layer.maxConnections = value
  }
  if (given('maxAgents')) {
    const value = Number(flags.maxAgents)
    if (!Number.isInteger(value)) throw new ConfigError('agents.maxConcurrent', `expected an integer, got '${flags.maxAgents}'`)
    layer.agents = { maxConcurrent: value }
  }
  return layer as ConfigLayer
}

async function startNode (config: NodeConfig): Promise<void> {
  // Signal handlers go in before anything is printed: whoever reads the banner may signal at once.
  let stopNode: (() => Promise<void>) | undefined
  let signals = 0
  const shutdown = (signal: string): void => {
    signals++
    if (signals > 1) process.exit(130)
    if (stopNode === undefined) process.exit(0)
    stopNode().then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`peerflow: error while stopping after ${signal}: ${(err as Error).message}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })

  const { createNode } = await import('../app.ts')
  const node = await createNode(config)
  // Process-wide (V8's flags): one node per process here, unlike the tests' in-process networks.
  const memorySaver = process.env.PEERFLOW_IDLE_MEMORY_SAVER === 'off'
    ? undefined
    : new IdleMemorySaver({ onChange: (favourMemory) => { node.log.debug({ favourMemory }, favourMemory ? 'idle: V8 favours memory' : 'busy: V8 favours speed') } })
  memorySaver?.start()
  stopNode = async () => {
    node.log.info('shutting down')
    memorySaver?.stop()
    await node.stop()
  }
  if (signals > 0) return shutdown('SIGTERM')
  const lines = [
    `peerflow node ${node.peerId}`,
    'listening on:',
    ...node.addresses().map((addr) => `  ${addr}`),
    `control API: http://${node.apiAddress}  (data: ${config.dataDir})`,
    ''
  ]
  process.stdout.write(lines.join('\n'))
}

/** `peerflow start`: resolve the config (flags > env > file > defaults), then run the node. */
export async function runStart (flags: StartFlags, command: Command): Promise<void> {
  try {
    const embeddedBootstrap = await readBootstrapFile(flags.bootstrapFile ?? EMBEDDED_BOOTSTRAP)
    const config = await resolveConfig({ flags: flagLayer(command, flags), env: process.env, embeddedBootstrap })
    validateBootstrap(config.bootstrap)
    await startNode(config)
  } catch (err) {
    if (err instanceof ConfigError) throw Object.assign(err, { exitCode: 2 })
    throw err
  }
}
