import { fileURLToPath } from 'node:url'
import { endpointOf, isConfigured } from '../../src/agents/index.ts'
import type { StatusReply } from '../api/types.ts'
import { ApiClient } from '../cli/client.ts'
import { readBootstrapFile } from '../config/bootstrap-list.ts'
import { defaults, defaultDataDir, resolveConfig, type NodeConfig } from '../config/config.ts'
import { checkBootstrapPeers } from './bootstrap-peers.ts'
import { failed, passed, type CheckResult, type RunningNode } from './check.ts'
import { checkClock, httpDateReference, nodeReference, type ClockReference } from './clock.ts'
import { checkDataDir } from './data-dir-check.ts'
import { checkKeyFiles } from './key-files.ts'
import { checkModelProvider, providerFor } from './model-provider.ts'
import { checkMcpServers } from './mcp-servers-check.ts'
import { createLogger } from '../core/logger.ts'
import { NATIVE_ADDONS, checkNativeAddon, checkQuantizedIndexAddon, type NativeAddon } from './native-addons.ts'
import { checkNodeVersion } from './node-version.ts'
import { checkPorts } from './ports.ts'

const EMBEDDED_BOOTSTRAP = fileURLToPath(new URL('../../bootstrap.json', import.meta.url))
/** Per network probe: long enough for a far peer, short enough that doctor answers quickly. */
const PROBE_TIMEOUT_MS = 5_000
/** The API is local or tunnelled: a node that takes longer than this to say its status is not healthy anyway. */
const API_TIMEOUT_MS = 2_000
/** Starting a program (npx may install it first) takes longer than a network probe. */
const MCP_START_TIMEOUT_MS = 15_000

export interface DoctorOptions {
  /** The control API of a running node to ask; when absent, the configured API address is tried. */
  api?: string
  token?: string
  dataDir?: string
  env?: NodeJS.ProcessEnv
  /** Which native modules must load (tests point it at one that does not exist). */
  addons?: readonly NativeAddon[]
  probeTimeoutMs?: number
}

export interface DoctorReport {
  ok: boolean
  /** The node that answered on the control API, if any. */
  node: { api: string, peerId: string } | null
  dataDir: string
  checks: CheckResult[]
}

/** Asks the control API for the node's status; a reason instead when nothing (or something else) answers. */
async function findRunningNode (api: string, token: string | undefined): Promise<RunningNode | string> {
  const client = new ApiClient(api, token)
  try {
    const before = Date.now()
    const status = await client.request<StatusReply>('GET', '/status', { timeoutMs: API_TIMEOUT_MS })
    const after = Date.now()
    return {
      api,
      peerId: status.peerId,
      dataDir: status.dataDir,
      listen: status.listen,
      // The node computed uptime when it answered, somewhere within the round trip.
      clockAt: { local: (before + after) / 2, remote: status.startedAt + status.uptimeMs },
      request: async (method, path, body, timeoutMs) => client.request(method, path, { body, timeoutMs })
    }
  } catch (err) {
    return (err as Error).message
  }
}

/** Runs every check. The only lasting effect: a running node joins a configured bootstrap peer it was not connected to. */
export async function runDoctor (options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env
  const timeoutMs = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS
  const token = options.token ?? env.PEERFLOW_API_TOKEN
  let found = options.api === undefined ? undefined : await findRunningNode(options.api, token)
  const dataDir = options.dataDir ?? (typeof found === 'object' ? found.dataDir : undefined) ?? env.PEERFLOW_DATA ?? defaultDataDir()

  let config: NodeConfig
  let configCheck: CheckResult
  try {
    config = await resolveConfig({ flags: { dataDir }, env, embeddedBootstrap: await readBootstrapFile(EMBEDDED_BOOTSTRAP) })
    configCheck = passed('configuration', `valid (PEERFLOW_* environment, ${dataDir}/peerflow.json, defaults)`)
  } catch (err) {
    config = defaults(dataDir)
    configCheck = failed('configuration', (err as Error).message, `fix that value in ${dataDir}/peerflow.json or the PEERFLOW_* environment; the checks below use the defaults`)
  }
  found ??= await findRunningNode(config.api, token)
  const running = typeof found === 'object' ? found : undefined
  const apiProblem = typeof found === 'string' ? found : undefined

  const provider = (() => { try { return providerFor(config, env) } catch { return undefined } })()
  const clockReferences = async (): Promise<ClockReference[]> => {
    const fromProvider = provider !== undefined && isConfigured(provider) ? await httpDateReference(endpointOf(provider), timeoutMs) : undefined
    return [...(running === undefined ? [] : [nodeReference(running)]), ...(fromProvider === undefined ? [] : [fromProvider])]
  }

  const checks = await Promise.all([
    guard('Node.js version', async () => checkNodeVersion()),
    ...(options.addons ?? NATIVE_ADDONS).map(async (addon) => guard(`native addon ${addon.module}`, async () => checkNativeAddon(addon))),
    guard('native addon int8 HNSW', async () => checkQuantizedIndexAddon()),
    ...(options.api !== undefined && running === undefined
      ? [failed('running node', `${options.api}: ${apiProblem ?? 'no answer'}`, 'start the node (`peerflow start`), or pass the --api address it prints')]
      : []),
    configCheck,
    guard('data dir', async () => checkDataDir(config.dataDir)),
    guard('key file permissions', async () => checkKeyFiles(config.dataDir, config.networkSecretFile)),
    guard('ports', async () => checkPorts(config, running, apiProblem)),
    guard('bootstrap peers', async () => checkBootstrapPeers(config, running, timeoutMs)),
    guard('model provider', async () => checkModelProvider(config, env, timeoutMs)),
    guard('clock', async () => checkClock(await clockReferences())),
    checkMcpServers(config, createLogger('silent'), MCP_START_TIMEOUT_MS)
      .catch((err: Error) => [failed('MCP servers', `could not check: ${err.message}`, 'fix the cause above and run doctor again')])
  ]).then((results) => results.flat())
  return {
    ok: checks.every((check) => check.ok),
    node: running === undefined ? null : { api: running.api, peerId: running.peerId },
    dataDir: config.dataDir,
    checks
  }
}

/** A check that threw is a failed check, not a crashed doctor. */
async function guard (name: string, run: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run()
  } catch (err) {
    return failed(name, `could not check: ${(err as Error).message}`, 'fix the cause above and run doctor again')
  }
}

/** ✓/✗ per check, with the fix under each failure. */
export function formatDoctorReport (report: DoctorReport): string {
  const width = Math.max(...report.checks.map((check) => check.name.length))
  const lines = [
    report.node === null
      ? `peerflow doctor: no node answering; checking this machine for a node with data dir ${report.dataDir}`
      : `peerflow doctor: node ${report.node.peerId} at ${report.node.api} (data dir ${report.dataDir})`,
    ''
  ]
  for (const check of report.checks) {
    lines.push(`${check.ok ? '✓' : '✗'} ${check.name.padEnd(width)}  ${check.detail}`)
    if (!check.ok && check.hint !== '') lines.push(`  ${' '.repeat(width)}  fix: ${check.hint}`)
  }
  const failures = report.checks.filter((check) => !check.ok).length
  lines.push('', failures === 0 ? `all ${report.checks.length} checks passed` : `${failures} of ${report.checks.length} checks failed`)
  return `${lines.join('\n')}\n`
}
