import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { defaultDataDir } from './data-dir.ts'
import { ROUTE_PRIORITIES } from '../../src/agents/route-table.ts'

export { defaultDataDir }

/** A configuration value that cannot be used; the CLI prints it as one line and exits with 2. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly field: string
  constructor (field: string, message: string) {
    super(`invalid config: ${field}: ${message}`)
    this.field = field
  }
}

export const DEFAULT_QUIC_PORT = 4433
export const DEFAULT_TCP_PORT = 4433
export const DEFAULT_API_ADDRESS = '127.0.0.1:7433'
export const DEFAULT_LISTEN = [
  `/ip4/0.0.0.0/udp/${DEFAULT_QUIC_PORT}/quic-v1`,
  `/ip4/0.0.0.0/tcp/${DEFAULT_TCP_PORT}`
]

const multiaddrString = z.string().refine((value) => {
  try { multiaddr(value); return true } catch { return false }
}, { message: 'malformed multiaddr' })

/** host:port for the control API. */
export const apiAddress = z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'expected host:port')
  .refine((value) => Number(value.slice(value.lastIndexOf(':') + 1)) <= 65535, { message: 'port out of range' })

/** An MCP server name: it prefixes its tools (`<server>__<tool>`), so no double underscore. */
export const MCP_SERVER_NAME = /^(?!.*__)[a-zA-Z0-9][a-zA-Z0-9_-]{0,31}$/

/**
 * One entry of `mcpServers`, in the shape Claude Desktop and Claude Code use: `command` (with
 * `args`, `env`, `cwd`) starts a stdio server as a child of the node; `url` reaches a Streamable
 * HTTP server.
 */
export const McpServerConfigSchema = z.object({
  type: z.enum(['stdio', 'http', 'streamable-http']).optional(),
  command: z.string().min(1).optional(),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().min(1).optional(),
  url: z.string().refine((value) => /^https?:$/.test(URL.canParse(value) ? new URL(value).protocol : ''), { message: 'expected an http(s) URL' }).optional(),
  headers: z.record(z.string(), z.string()).default({}),
  /** Per tool call; a call that takes longer fails with a timeout the model sees. */
  timeoutMs: z.number().int().min(100).max(3_600_000).default(60_000)
}).strict().refine((server) => (server.command === undefined) !== (server.url === undefined), {
  message: 'give either command (a stdio server) or url (a Streamable HTTP server)'
})
export type McpServerConfig = z.infer<typeof McpServerConfigSchema>

/** Per-role settings under `agents.<role>`. */
export const RoleSettingsSchema = z.object({
  /** Tool name patterns (globs such as `fs__read_*`) of the MCP and workspace tools this role may call; default none. */
  tools: z.array(z.string().min(1).max(128)).max(256).default([]),
  /** Overrides the role's own model priority. */
  priority: z.enum(ROUTE_PRIORITIES).optional()
}).strict()

const ENDPOINT_NAME = /^[a-zA-Z0-9_-]{1,32}$/
const httpUrl = z.string().refine((value) => /^https?:$/.test(URL.canParse(value) ? new URL(value).protocol : ''), { message: 'expected an http(s) URL' })

/**
 * Model routing (`peerflow models`): Anthropic-compatible endpoints, and per priority the
 * `endpoint:model` steps to try in order. `privacy` may only name endpoints marked `local`.
 */
export const ModelsConfigSchema = z.object({
  endpoints: z.record(z.string().regex(ENDPOINT_NAME, 'endpoint names are 1-32 letters, digits, _ or -'), z.object({
    url: httpUrl,
    local: z.boolean().default(false),
    /** The environment variable holding this endpoint's key (default ANTHROPIC_API_KEY for endpoints not marked local). */
    apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional()
  }).strict()),
  routes: z.partialRecord(z.enum(ROUTE_PRIORITIES), z.array(z.string().regex(/^[a-zA-Z0-9_-]{1,32}:\S+$/, 'expected endpoint:model')).min(1).max(8)),
  /** USD per million tokens, by the model id endpoints report; over the built-in list. */
  prices: z.record(z.string(), z.object({ inputPerMTok: z.number().min(0), outputPerMTok: z.number().min(0) }).strict()).default({})
}).strict().superRefine((models, ctx) => {
  for (const [priority, steps] of Object.entries(models.routes)) {
    for (const [i, step] of (steps ?? []).entries()) {
      const endpoint = models.endpoints[step.slice(0, step.indexOf(':'))]
      if (endpoint === undefined) ctx.addIssue({ code: 'custom', path: ['routes', priority, i], message: `no endpoint named '${step.slice(0, step.indexOf(':'))}' in models.endpoints` })
      else if (priority === 'privacy' && !endpoint.local) ctx.addIssue({ code: 'custom', path: ['routes', priority, i], message: `privacy may only route to endpoints marked "local": true ('${step}' is not)` })
    }
  }
})
export type ModelsConfig = z.infer<typeof ModelsConfigSchema>
export type RoleSettings = z.infer<typeof RoleSettingsSchema>

const AGENT_SETTINGS = new Set<string>(['maxConcurrent', 'maxAttempts', 'heartbeatMs', 'workerTimeoutMs', 'taskTimeoutMs', 'patternsInContext', 'retentionMs', 'baseUrl', 'dailyBudgetUsd', 'prices', 'roles'])

/** `agents.<role>: {...}` in peerflow.json sits beside the node-wide settings; it is kept under `agents.roles`. */
function liftRoleSettings (agents: unknown): unknown {
  if (agents === null || typeof agents !== 'object' || Array.isArray(agents)) return agents
  const settings: Record<string, unknown> = {}
  const roles: Record<string, unknown> = { ...((agents as { roles?: object }).roles ?? {}) }
  for (const [key, value] of Object.entries(agents)) {
    if (AGENT_SETTINGS.has(key)) settings[key] = value
    else roles[key] = value
  }
  return { ...settings, roles }
}

export const NodeConfigSchema = z.object({
  dataDir: z.string().min(1),
  listen: z.array(multiaddrString).min(1),
  api: apiAddress,
  bootstrap: z.array(multiaddrString),
  mdns: z.boolean(),
  quic: z.boolean(),
  tcp: z.boolean(),
  /** Serve as a circuit relay (v2) for admitted network members: for publicly reachable nodes. */
  relay: z.boolean(),
  /** Ask the router in front of this node to forward its ports (UPnP IGD). */
  upnp: z.boolean(),
  /** Public addresses to advertise besides the listen ones, e.g. a port forwarded by hand on the NAT. */
  announce: z.array(multiaddrString),
  /**
   * What this node grants as a relay. circuit-relay-v2 applies one limit to every reservation (no
   * per-peer policy), and any limit marks relayed connections as limited, which keeps memory sync
   * and elections off them: so the default is none, with only admitted members served, up to
   * `maxReservations` of them. 0 means no limit.
   */
  relayLimits: z.object({
    maxReservations: z.number().int().min(1).max(10_000).default(64),
    durationMs: z.number().int().min(0).default(0),
    dataBytes: z.number().int().min(0).default(0)
  }).strict(),
  /** Peer exchange dials learned peers until this many connections are open. */
  maxConnections: z.number().int().min(1).max(10_000),
  dialTimeoutMs: z.number().int().min(100).max(120_000),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  /**
   * Swarm-scoped replication: a swarm's namespaces (`swarm.<name>`) go only to its members. Off,
   * every node replicates every namespace (the behaviour before scoping; a benchmark baseline).
   */
  scopedReplication: z.boolean(),
  /** Policy overrides per replicated-memory namespace (merged over the seeded ones). */
  namespaces: z.record(z.string(), z.object({
    defaultTtlMs: z.number().int().positive().optional(),
    maxEntries: z.number().int().positive().optional(),
    maxBytes: z.number().int().positive().optional(),
    maxValueBytes: z.number().int().positive().optional()
  }).strict()),
  /** The network secret (base64, mode 0600); absent means open mode: any peer is admitted. */
  networkSecretFile: z.string().min(1).optional(),
  /** OTLP/HTTP traces endpoint (e.g. http://127.0.0.1:4318/v1/traces); tracing is off without it. */
  otlpEndpoint: z.url({ protocol: /^https?$/ }).optional(),
  /** Per-peer limits; a peer that keeps breaking them is disconnected and backed off. */
  limits: z.object({
    gossipPerSecond: z.number().positive(),
    gossipBurst: z.number().int().positive(),
    maxViolations: z.number().int().positive()
  }).strict(),
  /** ReasoningBank embedder: 'use' (semantic sentence encoder, shipped offline) or 'hash' (lexical, not semantic). */
  embedder: z.enum(['use', 'hash']),
  /** How often expired memory entries are swept. */
  sweepIntervalMs: z.number().int().min(1_000),
  election: z.object({
    timeoutMinMs: z.number().int().min(20),
    timeoutMaxMs: z.number().int().min(20),
    heartbeatMs: z.number().int().min(5)
  }).strict().refine((e) => e.timeoutMaxMs >= e.timeoutMinMs && e.heartbeatMs < e.timeoutMinMs, {
    message: 'need heartbeatMs < timeoutMinMs <= timeoutMaxMs'
  }),
  /** The task layer: agent slots on this node, retries, and the timing of heartbeats and failover. */
  agents: z.preprocess(liftRoleSettings, z.object({
    /** Agents this node runs at once; leaders assign no more than this to it. */
    maxConcurrent: z.number().int().min(1).max(64),
    /** Default attempts per task stage (retries and reassignments included). */
    maxAttempts: z.number().int().min(1).max(10),
    /** How often a running agent reports progress. */
    heartbeatMs: z.number().int().min(50).max(60_000),
    /** A task whose worker has been silent this long moves to another member. */
    workerTimeoutMs: z.number().int().min(200).max(3_600_000),
    /** Upper bound on the wall time of any one attempt. */
    taskTimeoutMs: z.number().int().min(1_000).max(86_400_000),
    /** ReasoningBank patterns put in each agent's context. */
    patternsInContext: z.number().int().min(0).max(20),
    /** How long task records stay in replicated memory. */
    retentionMs: z.number().int().min(60_000),
    /** Anthropic-compatible endpoint used when ANTHROPIC_BASE_URL is not set. */
    baseUrl: z.string().refine((value) => URL.canParse(value), { message: 'not a URL' }).optional(),
    /** Settings per role name (built-in or user-written), written in peerflow.json as `agents.<role>`. */
    roles: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'role names are lowercase letters, digits and -'), RoleSettingsSchema).default({}),
    /** This node's own daily spend cap in USD (its agents make no model call past it). */
    dailyBudgetUsd: z.number().min(0).max(1_000_000).optional(),
    /** Model prices in USD per million tokens, added to or overriding the built-in table (src/agents/pricing.ts). */
    prices: z.record(z.string().min(1).max(128), z.object({
      inputPerMTok: z.number().min(0).max(10_000),
      outputPerMTok: z.number().min(0).max(10_000)
    }).strict()).optional()
  }).strict().refine((a) => a.workerTimeoutMs > 2 * a.heartbeatMs, { message: 'need workerTimeoutMs > 2 x heartbeatMs' })),
  /** Several model endpoints and routes by priority; absent, agents use ANTHROPIC_BASE_URL / agents.baseUrl with the per-tier models. */
  models: ModelsConfigSchema.optional(),
  /** Files that travel with tasks (content-addressed, in <data>/blobs). */
  blobs: z.object({
    /** What the store may hold; files no live task refers to are removed to make room. */
    quotaBytes: z.number().int().min(1).max(2 ** 50),
    /** The largest single file accepted (attached, fetched or produced). */
    maxFileBytes: z.number().int().min(1).max(4 * 1024 ** 3),
    /** An unreferenced file stays at least this long (an upload waiting for its task). */
    graceMs: z.number().int().min(0)
  }).strict().default({ quotaBytes: 10 * 1024 ** 3, maxFileBytes: 1024 ** 3, graceMs: 3_600_000 }),
  /** What agents may do in their attempt's workspace beyond reading and writing files there. */
  workspace: z.object({
    /** Running programs: off unless `enabled`, and then only those in `allow`, for roles allowed `workspace__run`. */
    commands: z.object({
      enabled: z.boolean(),
      allow: z.array(z.string().min(1).max(200)).max(64),
      timeoutMs: z.number().int().min(100).max(3_600_000),
      maxOutputBytes: z.number().int().min(1_024).max(16 * 1024 * 1024)
    }).strict()
  }).strict().default({ commands: { enabled: false, allow: [], timeoutMs: 30_000, maxOutputBytes: 64 * 1024 } }),
  /** MCP servers whose tools this node's agents may be allowed to call (see `agents.<role>.tools`). */
  mcpServers: z.record(
    z.string().regex(MCP_SERVER_NAME, 'server names are 1-32 letters, digits, _ or - without a double underscore')
      // Its tools would be named like the built-in workspace__* ones.
      .refine((name) => name !== 'workspace', { message: "'workspace' is the name of the built-in workspace tools" }),
    McpServerConfigSchema
  ).default({})
}).strict()
export type NodeConfig = z.infer<typeof NodeConfigSchema>

/** Any subset of the config, as one source (flags, env, file) provides it; `agents` merges field by field. */
export type ConfigLayer = Omit<Partial<NodeConfig>, 'agents'> & { agents?: Partial<NodeConfig['agents']> }

export function defaults (dataDir: string): NodeConfig {
  return {
    dataDir,
    listen: DEFAULT_LISTEN,
    api: DEFAULT_API_ADDRESS,
    bootstrap: [],
    mdns: false,
    quic: true,
    tcp: true,
    relay: false,
    upnp: false,
    announce: [],
    relayLimits: { maxReservations: 64, durationMs: 0, dataBytes: 0 },
    maxConnections: 50,
    dialTimeoutMs: 10_000,
    logLevel: 'info',
    scopedReplication: true,
    namespaces: {},
    limits: { gossipPerSecond: 2_000, gossipBurst: 4_000, maxViolations: 200 },
    embedder: 'use',
    sweepIntervalMs: 60_000,
    // The Raft paper's 150-300 ms election timeouts; heartbeats at a third of the minimum.
    election: { timeoutMinMs: 150, timeoutMaxMs: 300, heartbeatMs: 50 },
    agents: {
      maxConcurrent: 2,
      maxAttempts: 3,
      heartbeatMs: 1_000,
      workerTimeoutMs: 10_000,
      taskTimeoutMs: 600_000,
      patternsInContext: 3,
      retentionMs: 7 * 24 * 3_600_000,
      roles: {}
    },
    blobs: { quotaBytes: 10 * 1024 ** 3, maxFileBytes: 1024 ** 3, graceMs: 3_600_000 },
    workspace: { commands: { enabled: false, allow: [], timeoutMs: 30_000, maxOutputBytes: 64 * 1024 } },
    mcpServers: {}
  }
}

function list (value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined
  return value.split(',').map((item) => item.trim()).filter(Boolean)
}

function bool (name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined
  if (/^(1|true|yes|on)$/i.test(value)) return true
  if (/^(0|false|no|off)$/i.test(value)) return false
  throw new ConfigError(name, `expected true or false, got '${value}'`)
}

function int (name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const parsed = Number(value)
  if (!Number.isInteger(parsed)) throw new ConfigError(name, `expected an integer, got '${value}'`)
  return parsed
}

/** The PEERFLOW_* environment variables, as a config layer. */
export function envLayer (env: NodeJS.ProcessEnv): ConfigLayer {
  const layer: ConfigLayer = {
    listen: list(env.PEERFLOW_LISTEN),
    api: env.PEERFLOW_API,
    bootstrap: list(env.PEERFLOW_BOOTSTRAP),
    mdns: bool('PEERFLOW_MDNS', env.PEERFLOW_MDNS),
    quic: bool('PEERFLOW_QUIC', env.PEERFLOW_QUIC),
    tcp: bool('PEERFLOW_TCP', env.PEERFLOW_TCP),
    relay: bool('PEERFLOW_RELAY', env.PEERFLOW_RELAY),
    upnp: bool('PEERFLOW_UPNP', env.PEERFLOW_UPNP),
    announce: list(env.PEERFLOW_ANNOUNCE),
    maxConnections: int('PEERFLOW_MAX_CONNECTIONS', env.PEERFLOW_MAX_CONNECTIONS),
    embedder: env.PEERFLOW_EMBEDDER as NodeConfig['embedder'] | undefined,
    networkSecretFile: env.PEERFLOW_NETWORK_SECRET_FILE,
    otlpEndpoint: env.PEERFLOW_OTLP_ENDPOINT,
    logLevel: env.PEERFLOW_LOG_LEVEL as NodeConfig['logLevel'] | undefined
  }
  const maxAgents = int('PEERFLOW_MAX_AGENTS', env.PEERFLOW_MAX_AGENTS)
  if (maxAgents !== undefined) layer.agents = { maxConcurrent: maxAgents }
  return withoutUndefined(layer)
}

/** A nested section of one layer, to be merged field by field; anything but an object is an error. */
function section (name: string, value: unknown): object {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(name, 'expected an object')
  return value
}

function withoutUndefined<T extends object> (layer: T): T {
  return Object.fromEntries(Object.entries(layer).filter(([, value]) => value !== undefined)) as T
}

/** `peerflow.json` in the data dir; absent is fine, unreadable or malformed is an error. */
export async function fileLayer (dataDir: string): Promise<ConfigLayer> {
  const path = join(dataDir, 'peerflow.json')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new ConfigError(path, (err as Error).message)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(path, `not valid JSON (${(err as Error).message})`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(path, 'expected a JSON object')
  }
  return parsed as ConfigLayer
}

export interface ConfigSources {
  flags: ConfigLayer
  env: NodeJS.ProcessEnv
  /** The bootstrap list shipped with the project, used when no layer names one. */
  embeddedBootstrap?: string[]
}

/** flags > env > peerflow.json in the data dir > defaults, validated as a whole. */
export async function resolveConfig ({ flags, env, embeddedBootstrap = [] }: ConfigSources): Promise<NodeConfig> {
  const dataDir = resolve(flags.dataDir ?? env.PEERFLOW_DATA ?? defaultDataDir())
  const base = defaults(dataDir)
  const file = await fileLayer(dataDir)
  const fromEnv = envLayer(env)
  const merged = {
    ...base,
    bootstrap: embeddedBootstrap,
    ...file,
    ...fromEnv,
    ...withoutUndefined(flags),
    agents: { ...base.agents, ...section('agents', file.agents), ...fromEnv.agents, ...flags.agents },
    dataDir
  }
  return validateConfig(merged)
}

export function validateConfig (candidate: unknown): NodeConfig {
  const result = NodeConfigSchema.safeParse(candidate)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const field = issue === undefined ? '(config)' : issue.path.map(String).join('.') || '(config)'
  // A record key that fails its pattern says why only in the nested issue.
  const message = issue?.code === 'invalid_key' ? issue.issues[0]?.message : issue?.message
  throw new ConfigError(field, message ?? 'rejected')
}
