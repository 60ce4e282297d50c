import { PeerflowError, swarmNamespace, swarmOfNamespace, type JsonValue, type MemoryStore } from '../../crdt/index.ts'
import type { AgentRole, AgentTool } from '../../src/agents/index.ts'
import { AGENT_ROLES_NAMESPACE } from './user-roles.ts'
import { nodeProvider } from '../config/model-routing.ts'
import { agentTools } from '../../src/swarm/tasks/agent-tools.ts'
import { parseKey, TASKS_NAMESPACE, taskKey } from '../../src/swarm/tasks/keys.ts'
import type { AttemptWorkspaces, PatternBank, SharedMemory, SwarmDirectory, TaskStore } from '../../src/swarm/tasks/ports.ts'
import { TaskService } from '../../src/swarm/tasks/task-service.ts'
import type { SwarmService } from '../../src/swarm/swarm-service.ts'
import type { NodeConfig } from '../config/config.ts'
import type { Host } from '../net/host.ts'
import type { Logger } from '../core/logger.ts'
import { PATTERNS_NAMESPACE } from './replicated-pattern-store.ts'
import { SWARMS_NAMESPACE, swarmDefinitionsIn } from './swarm-stores.ts'

export interface TaskWiring {
  self: string
  config: NodeConfig
  memory: MemoryStore
  swarms: SwarmService
  host: Host
  /** The ReasoningBank once it is open. */
  patterns: () => PatternBank | undefined
  log: Logger
  /** Tools every role gets (see nodeAgentTools). */
  tools: readonly AgentTool[]
  /** Tools only the roles allowed by config get (MCP servers', the workspace's). */
  roleTools: (role: string) => readonly AgentTool[]
  /** Each attempt's own directory with the task's files. */
  workspaces: AttemptWorkspaces
  /** Roles beyond the built-in ones. */
  roles: (name: string) => AgentRole | undefined
  env?: NodeJS.ProcessEnv
  /** The swarms whose namespaces this node replicates (replication-scope.ts). */
  scope: TaskScope
}

/** What the task layer's storage needs to know of the replication scope. */
export interface TaskScope {
  swarms: () => string[]
  replicates: (namespace: string) => boolean
}

/**
 * The task layer sees one store; underneath, a swarm's records (specs and everything about its
 * tasks, its grants and budgets) live in the swarm's own namespace, replicated only to its members,
 * and what every leader reads whatever its swarm (workers' capacity, network budgets) in the
 * network-wide `tasks` namespace, which also still holds records written before swarms had one.
 */
function taskNamespaces (memory: MemoryStore, scope: TaskScope): { held: () => string[], of: (key: string, value?: JsonValue) => string } {
  const held = (): string[] => [TASKS_NAMESPACE, ...scope.swarms().map(swarmNamespace)]
  const of = (key: string, value?: JsonValue): string => {
    const parsed = parseKey(key)
    if (parsed === undefined || parsed.kind === 'worker') return TASKS_NAMESPACE
    if (parsed.kind === 'budget') return parsed.swarm === null ? TASKS_NAMESPACE : swarmNamespace(parsed.swarm)
    if (parsed.kind === 'grant') return swarmNamespace(parsed.swarm)
    if (parsed.kind === 'spec') {
      const swarm = (value as { swarm?: unknown } | undefined)?.swarm
      if (typeof swarm === 'string') return swarmNamespace(swarm)
    }
    const holder = held().find((namespace) => memory.get(namespace, taskKey(parsed.task)) !== undefined)
    if (holder === undefined) throw new PeerflowError('not-found', `no task '${parsed.task}' in the swarms this node replicates`)
    return holder
  }
  return { held, of }
}

function taskStoreIn (memory: MemoryStore, self: string, scope: TaskScope): TaskStore {
  const namespaces = taskNamespaces(memory, scope)
  return {
    // Entries go out as the store holds them: the task layer caches its decoding per entry object.
    list: (prefix) => namespaces.held().flatMap((namespace) => memory.list(namespace, { prefix })),
    put: async (key, value, ttlMs) => {
      const namespace = namespaces.of(key, value)
      if (!scope.replicates(namespace)) {
        throw new PeerflowError('forbidden', `this node is not a member of swarm '${swarmOfNamespace(namespace) ?? ''}' and does not replicate its tasks (namespace '${namespace}'): submit from a member, or join the swarm first`)
      }
      await memory.put(namespace, key, value, { author: self, ttlMs })
    },
    onChange: (listener) => memory.onUpdate((namespace) => {
      if (namespace === TASKS_NAMESPACE || (swarmOfNamespace(namespace) !== undefined && scope.replicates(namespace))) listener()
    })
  }
}

function sharedMemoryIn (memory: MemoryStore, self: string, scope: TaskScope): SharedMemory {
  const readable = (namespace: string): string => {
    if (!scope.replicates(namespace)) throw new PeerflowError('forbidden', `this node does not replicate namespace '${namespace}' (its swarm's members do)`)
    return namespace
  }
  return {
    get: (namespace, key) => memory.get(readable(namespace), key),
    list: (namespace, prefix) => memory.list(readable(namespace), { prefix }),
    put: async (namespace, key, value: JsonValue) => {
      // A swarm's namespace holds its task records, which peerflow writes (one writer per key).
      if (swarmOfNamespace(namespace) !== undefined) throw new PeerflowError('forbidden', `namespace '${namespace}' is maintained by peerflow itself and is read-only to agents`)
      await memory.put(namespace, key, value, { author: self })
    }
  }
}

function swarmDirectory (wiring: TaskWiring): SwarmDirectory {
  const definitions = swarmDefinitionsIn(wiring.memory, wiring.self)
  return {
    definition: (name) => definitions.get(name),
    definitions: () => definitions.list(),
    seat: (name) => wiring.swarms.member(name),
    isConnected: (peer) => {
      if (!wiring.host.getPeers().some((connected) => connected.toString() === peer)) return false
      // A killed node's QUIC connection lingers until its idle timeout; the heartbeat acks a leader
      // collects notice within a few election timeouts, so a silent voter counts as gone.
      const silenceLimitMs = 3 * wiring.config.election.timeoutMaxMs
      for (const definition of definitions.list()) {
        const seat = wiring.swarms.member(definition.name)
        if (seat?.role !== 'leader' || !seat.voters.includes(peer)) continue
        const silentFor = seat.silentForMs(peer)
        if (silentFor === null || silentFor > silenceLimitMs) return false
      }
      return true
    },
    onLeaderChange: (listener) => wiring.swarms.events.subscribe((event) => { if (event.type === 'leader-changed') listener() })
  }
}

/**
 * The node's task layer, wired to its replicated memory, swarms, ReasoningBank and model provider.
 * The provider is resolved for every attempt, from ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL, with
 * the config's `agents.baseUrl` used when the environment names no endpoint.
 */
export function createTaskService (wiring: TaskWiring): TaskService {
  const { self, config, memory, log } = wiring
  const env = wiring.env ?? process.env
  const { baseUrl: _baseUrl, roles: _roles, ...settings } = config.agents
  return new TaskService({
    self,
    store: taskStoreIn(memory, self, wiring.scope),
    swarms: swarmDirectory(wiring),
    patterns: wiring.patterns,
    provider: () => nodeProvider(config, env),
    tools: wiring.tools,
    roleTools: wiring.roleTools,
    workspaces: wiring.workspaces,
    rolePriority: (role) => config.agents.roles[role]?.priority,
    roles: wiring.roles,
    settings,
    log: log.child({ component: 'tasks' })
  })
}

/** The tools every task agent on this node gets: replicated memory and the ReasoningBank. */
export function nodeAgentTools (memory: MemoryStore, self: string, patterns: () => PatternBank | undefined, scope: TaskScope): AgentTool[] {
  return agentTools({
    memory: sharedMemoryIn(memory, self, scope),
    patterns,
    readOnlyNamespaces: [TASKS_NAMESPACE, SWARMS_NAMESPACE, PATTERNS_NAMESPACE, AGENT_ROLES_NAMESPACE]
  })
}

/** Every file hash a live task record names (attached files and files results carry): what blob GC keeps. */
export function taskFileHashes (memory: MemoryStore): Set<string> {
  const hashes = new Set<string>()
  const held = memory.namespaceNames().filter((name) => name === TASKS_NAMESPACE || swarmOfNamespace(name) !== undefined)
  for (const entry of held.flatMap((namespace) => memory.list(namespace, { prefix: 'task/' }))) {
    const files = (entry.value as { files?: unknown } | null)?.files
    if (!Array.isArray(files)) continue
    for (const file of files) {
      const sha256 = (file as { sha256?: unknown } | null)?.sha256
      if (typeof sha256 === 'string') hashes.add(sha256)
    }
  }
  return hashes
}
