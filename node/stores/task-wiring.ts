import type { JsonValue, MemoryStore } from '../../crdt/index.ts'
import type { AgentRole, AgentTool } from '../../src/agents/index.ts'
import { AGENT_ROLES_NAMESPACE } from './user-roles.ts'
import { nodeProvider } from '../config/model-routing.ts'
import { agentTools } from '../../src/swarm/tasks/agent-tools.ts'
import { TASKS_NAMESPACE } from '../../src/swarm/tasks/keys.ts'
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
}

function taskStoreIn (memory: MemoryStore, self: string): TaskStore {
  return {
    // Entries go out as the store holds them: the task layer caches its decoding per entry object.
    list: (prefix) => memory.list(TASKS_NAMESPACE, { prefix }),
    put: async (key, value, ttlMs) => { await memory.put(TASKS_NAMESPACE, key, value, { author: self, ttlMs }) },
    onChange: (listener) => memory.onUpdate((namespace) => { if (namespace === TASKS_NAMESPACE) listener() })
  }
}

function sharedMemoryIn (memory: MemoryStore, self: string): SharedMemory {
  return {
    get: (namespace, key) => memory.get(namespace, key),
    list: (namespace, prefix) => memory.list(namespace, { prefix }),
    put: async (namespace, key, value: JsonValue) => { await memory.put(namespace, key, value, { author: self }) }
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
    store: taskStoreIn(memory, self),
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
export function nodeAgentTools (memory: MemoryStore, self: string, patterns: () => PatternBank | undefined): AgentTool[] {
  return agentTools({
    memory: sharedMemoryIn(memory, self),
    patterns,
    readOnlyNamespaces: [TASKS_NAMESPACE, SWARMS_NAMESPACE, PATTERNS_NAMESPACE, AGENT_ROLES_NAMESPACE]
  })
}

/** Every file hash a live task record names (attached files and files results carry): what blob GC keeps. */
export function taskFileHashes (memory: MemoryStore): Set<string> {
  const hashes = new Set<string>()
  for (const entry of memory.list(TASKS_NAMESPACE, { prefix: 'task/' })) {
    const files = (entry.value as { files?: unknown } | null)?.files
    if (!Array.isArray(files)) continue
    for (const file of files) {
      const sha256 = (file as { sha256?: unknown } | null)?.sha256
      if (typeof sha256 === 'string') hashes.add(sha256)
    }
  }
  return hashes
}
