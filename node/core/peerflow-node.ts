import { PeerflowError, swarmNamespace, swarmOfNamespace } from '../../crdt/index.ts'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { IdentifyResult, PeerId } from '@libp2p/interface'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { MemoryStore } from '../../crdt/index.ts'
import { createEmbedder, ReasoningBank } from '../../src/reasoningbank/index.ts'
import { workspaceTools } from '../../src/agents/index.ts'
import { SwarmService } from '../../src/swarm/swarm-service.ts'
import type { TaskService } from '../../src/swarm/tasks/task-service.ts'
import type { NodeConfig } from '../config/config.ts'
import { createHost, QUIC_MAX_IDLE_TIMEOUT_MS, type Host } from '../net/host.ts'
import { loadOrCreateIdentity } from '../config/identity.ts'
import { KnownPeers } from '../net/known-peers.ts'
import { createLogger, type Logger } from './logger.ts'
import { patternStoreIn } from '../stores/replicated-pattern-store.ts'
import { createCatchUp, type CatchUp } from '../services/catch-up.ts'
import { createMemoryGossip, type MemoryGossip } from '../services/memory-gossip.ts'
import { emptyReplicationStats, type ReplicaStore, type ReplicationStats } from '../services/replica.ts'
import { ReplicationScope, type MembershipChange } from '../services/replication-scope.ts'
import { electionStateFiles, swarmDefinitionsIn } from '../stores/swarm-stores.ts'
import { createTaskService, nodeAgentTools, taskFileHashes } from '../stores/task-wiring.ts'
import { BlobStore } from '../stores/blob-store.ts'
import { createBlobTransfer, type BlobTransfer } from '../services/blob-transfer.ts'
import { NodeAttemptWorkspaces } from '../services/attempt-workspaces.ts'
import { UserRoles } from '../stores/user-roles.ts'
import { McpServers } from '../services/mcp-servers.ts'
import { AgentToolbox } from '../services/agent-toolbox.ts'
import { createSwarmTransport, type Libp2pSwarmTransport } from '../services/swarm-transport.ts'
import { Admission, PeerBackoff } from '../admission/admission.ts'
import { allowlistIn } from '../stores/replicated-allowlist.ts'
import { mergeGaters } from '../net/merge-gaters.ts'
import { loadNetworkSecret } from '../admission/network-secret.ts'
import { PeerBlocklist } from '../admission/peer-blocklist.ts'
import { ADMISSION_WAIT_MS } from '../admission/peer-gate.ts'
import { RateLimiter } from '../admission/rate-limiter.ts'
import { sealerFor } from '../../protocols/sealed.ts'
import { createPeerExchange, shareableAddrs, type PeerExchange } from '../services/peer-exchange-service.ts'
import { routeOf, type ConnectionRoute } from '../net/connection-route.ts'
import { ReachabilityMonitor, type Reachability, type ReachabilityStatus } from '../net/reachability-monitor.ts'
import { relayGater } from '../net/relay-gater.ts'
import { Reconnector } from '../net/reconnector.ts'
import { ResumeDetector } from '../net/resume-detector.ts'
import { transportOf, type TransportName } from '../net/transport-name.ts'
import { VERSION } from './version.ts'
import { startOtlpTracing, type Tracing } from './tracing.ts'

export interface PeerInfo {
  peerId: string
  address: string
  transport: TransportName
  direction: 'inbound' | 'outbound'
  /** Round-trip time measured by libp2p's connection monitor, when known. */
  rttMs: number | null
  connectedSince: number
  connections: number
  /** Passed the network's admission handshake (always true in open mode once identified). */
  admitted: boolean
  /** 'relayed' when spliced through a relay (whose PeerId is `relay`); `limited` when that relay caps it. */
  route: ConnectionRoute['route']
  relay: string | null
  limited: boolean
}

/** A second catch-up round after joining a swarm, once its new definition has reached the other members. */
const MEMBERSHIP_RESYNC_MS = 1_000

export interface NodeStatus {
  peerId: string
  version: string
  nodeVersion: string
  startedAt: number
  uptimeMs: number
  listen: string[]
  api: string
  peerCount: number
  dataDir: string
  transports: { quic: boolean, tcp: boolean }
  /** 'secret': only peers proving the network secret are served; 'open': anyone. */
  admission: 'secret' | 'open'
  /** public | private | unknown; details (relay reservations, UPnP mappings) in `nat`. */
  reachability: Reachability
  nat: ReachabilityStatus
  replication: ReplicationStatus
}

/** What this node replicates and what it received: the figures behind per-node bytes saved by scoping. */
export interface ReplicationStatus {
  /** False when scoping is off (`scopedReplication: false`): every namespace goes to every node. */
  scoped: boolean
  /** Swarms whose namespaces this node replicates. */
  swarms: string[]
  /** Bytes received by gossip and catch-up, over all namespaces. */
  bytesReceived: { gossip: number, sync: number, updates: number }
  /** Per namespace: update bytes received by gossip and by catch-up, and bytes held now (0 when not held). */
  namespaces: Array<{ namespace: string, gossipBytes: number, syncBytes: number, storedBytes: number }>
  /** Scoped namespaces a peer refused to send this node, with its reason. */
  refusals: Array<{ namespace: string, peer: string, reason: string, at: number }>
}

interface NodeParts {
  config: NodeConfig
  host: Host
  knownPeers: KnownPeers
  memory: MemoryStore
  blocklist: PeerBlocklist
  metrics: Registry
  admission: Admission
  secret: Uint8Array | undefined
  blobs: BlobStore
  log: Logger
}

/** The node's control surface (the HTTP API), built by the composition root: the core never imports it. */
export interface ControlEndpoint {
  /** Starts serving; resolves to the bound address. */
  listen: (address: string, dataDir: string) => Promise<string>
  close: () => Promise<void>
}

export interface CreateNodeOptions {
  log?: Logger
  /** Served once everything else has started, closed first on stop. */
  control?: (node: PeerflowNode) => ControlEndpoint
}

/** One part of the node with a lifecycle: started in list order, stopped in reverse. */
interface NodeComponent {
  start: () => Promise<void> | void
  stop: () => Promise<void> | void
}

/**
 * One peerflow node: the libp2p host, its own protocols and the control API, started and stopped
 * as a unit.
 */
export class PeerflowNode {
  readonly config: NodeConfig
  readonly host: Host
  readonly log: Logger
  readonly startedAt = Date.now()
  readonly blocklist: PeerBlocklist
  readonly admission: Admission
  readonly #gossipLimiter: RateLimiter
  readonly metrics: Registry
  readonly memory: MemoryStore
  /** Replicated memory on the network: gossip of local updates, catch-up by state vectors, their counters. */
  readonly replication: { gossip: MemoryGossip, catchUp: CatchUp, stats: ReplicationStats, scope: ReplicationScope }
  readonly swarms: SwarmService
  /** Swarm tasks: submission, scheduling when this node leads, and the agents it runs. */
  readonly tasks: TaskService
  /** The configured MCP servers, kept connected while the node runs. */
  readonly mcp: McpServers
  /** Which tools this node's agents get, by role. */
  readonly toolbox: AgentToolbox
  /** Roles beyond the built-in ones: this node's role files and those members share. */
  readonly roles: UserRoles
  /** Files attached to and produced by tasks, by SHA-256. */
  readonly blobs: BlobStore
  /** Serves this node's blobs to peers and fetches the ones it lacks. */
  readonly blobTransfer: BlobTransfer
  #blobTimer: NodeJS.Timeout | undefined
  #patterns: ReasoningBank | undefined
  readonly #swarmTransport: Libp2pSwarmTransport
  #sweepTimer: NodeJS.Timeout | undefined
  readonly #knownPeers: KnownPeers
  readonly #peerExchange: PeerExchange
  readonly #reconnector: Reconnector
  readonly #resumeDetector: ResumeDetector
  /** Reachability (AutoNAT), relay reservations and the relay service: docs/NAT.md. */
  readonly nat: ReachabilityMonitor
  readonly #control: ControlEndpoint | undefined
  #apiAddress = ''
  /** Components that started, in order: stop walks it backwards. */
  readonly #started: NodeComponent[] = []
  #stopping: Promise<void> | undefined
  #tracing: Tracing | undefined

  private constructor ({ config, host, knownPeers, memory, blocklist, metrics, admission, secret, blobs, log }: NodeParts, control?: CreateNodeOptions['control']) {
    this.config = config
    this.metrics = metrics
    this.blocklist = blocklist
    this.admission = admission
    this.host = host
    this.log = log
    this.memory = memory
    const gate = admission
    this.#gossipLimiter = new RateLimiter({
      ratePerSecond: config.limits.gossipPerSecond,
      burst: config.limits.gossipBurst,
      maxViolations: config.limits.maxViolations,
      violationWindowMs: 10_000,
      onAbuse: (peerId) => { void this.#punish(peerId, 'memory update rate limit exceeded') }
    })
    const self = host.peerId.toString()
    const scope = new ReplicationScope(self, swarmDefinitionsIn(memory, self), config.scopedReplication)
    // Replication sees only the namespaces this node replicates, and its swarms' even before they hold anything.
    const replica: ReplicaStore = {
      namespaceNames: () => [...new Set([
        ...memory.namespaceNames().filter((namespace) => scope.replicates(namespace)),
        ...scope.swarms().map(swarmNamespace)
      ])],
      stateVector: (namespace) => memory.stateVector(namespace),
      missingUpdates: (namespace, stateVector) => memory.missingUpdates(namespace, stateVector),
      applyRemote: async (namespace, update, origin, epoch) => {
        scope.assertReplicates(namespace)
        await memory.applyRemote(namespace, update, origin, epoch)
      },
      epochOf: (namespace) => memory.epochOf(namespace),
      adoptEpoch: async (namespace, record, parts, origin) => {
        scope.assertReplicates(namespace)
        return memory.adoptEpoch(namespace, record, parts, origin)
      },
      onUpdate: (listener) => memory.onUpdate(listener),
      holdCompaction: () => memory.holdCompaction()
    }
    const stats = emptyReplicationStats()
    const components = { host, gate, logger: log }
    const refusalFor = (peer: string, namespace: string): string | undefined => scope.refusalFor(peer, namespace)
    const catchUp = createCatchUp(components, { store: replica, stats, refusalFor })
    const gossip = createMemoryGossip(components, {
      store: replica,
      stats,
      sealer: secret === undefined ? undefined : sealerFor(secret, 'memory-gossip'),
      limiter: this.#gossipLimiter,
      catchUpAll: () => { catchUp.syncWithAll() },
      replicates: (namespace) => scope.replicates(namespace),
      refusalFor
    })
    this.replication = { gossip, catchUp, stats, scope }
    scope.onChange((change) => { this.#onMembershipChange(change) })
    this.#swarmTransport = createSwarmTransport(components)
    this.blobs = blobs
    this.blobTransfer = createBlobTransfer(components, { blobs })
    this.swarms = new SwarmService({
      self,
      definitions: swarmDefinitionsIn(memory, self),
      stateStore: electionStateFiles(config.dataDir),
      transport: this.#swarmTransport,
      timing: {
        electionTimeoutMinMs: config.election.timeoutMinMs,
        electionTimeoutMaxMs: config.election.timeoutMaxMs,
        heartbeatIntervalMs: config.election.heartbeatMs
      },
      isConnected: (peer) => host.getPeers().some((connected) => connected.toString() === peer),
      agentsOn: (swarm, peer) => this.tasks.agentsOn(swarm, peer),
      log: log.child({ component: 'swarm' })
    })
    this.mcp = new McpServers(config.mcpServers, log.child({ component: 'mcp' }))
    this.roles = new UserRoles(config.dataDir, memory, self)
    const configPatterns = Object.fromEntries(Object.entries(config.agents.roles).map(([role, settings]) => [role, settings.tools]))
    // A role file's own tools, and what the config grants the role by name, both hold.
    const rolePatterns = (): Record<string, string[]> => {
      const merged: Record<string, string[]> = { ...this.roles.filePatterns() }
      for (const [role, patterns] of Object.entries(configPatterns)) merged[role] = [...(merged[role] ?? []), ...patterns]
      return merged
    }
    const commands = config.workspace.commands.enabled ? config.workspace.commands : undefined
    this.toolbox = new AgentToolbox(nodeAgentTools(memory, self, () => this.#patterns, scope), this.mcp, rolePatterns, workspaceTools(config.dataDir, { commands }))
    this.tasks = createTaskService({
      self, config, memory, swarms: this.swarms, host, patterns: () => this.#patterns, log,
      tools: this.toolbox.builtIn,
      roleTools: (role) => this.toolbox.forRole(role),
      roles: (name) => this.roles.get(name),
      scope,
      workspaces: new NodeAttemptWorkspaces({
        dataDir: config.dataDir,
        blobs,
        transfer: this.blobTransfer,
        patterns: (role) => this.toolbox.patternsFor(role),
        commands,
        maxFileBytes: config.blobs.maxFileBytes
      })
    })
    this.#swarmTransport.bind({
      onRaftMessage: (from, swarm, message) => { this.swarms.onRaftMessage(from, swarm, message) },
      onRequest: async (from, request) => this.swarms.onRequest(from, request)
    })
    this.#knownPeers = knownPeers
    this.#reconnector = new Reconnector(host, log.child({ component: 'reconnector' }), config.dialTimeoutMs)
    this.#resumeDetector = new ResumeDetector((frozenMs) => { this.#onResume(frozenMs) })
    this.nat = new ReachabilityMonitor({ host, config, log: log.child({ component: 'reachability' }), gate })
    this.#peerExchange = createPeerExchange(components, {
      knownPeers, maxConnections: config.maxConnections, dialTimeoutMs: config.dialTimeoutMs
    })
    this.#control = control?.(this)
  }

  /** Builds and starts a node: listening on the network and serving the control API. */
  static async start (config: NodeConfig, options: CreateNodeOptions = {}): Promise<PeerflowNode> {
    const log = options.log ?? createLogger(config.logLevel)
    const privateKey = await loadOrCreateIdentity(config.dataDir)
    const knownPeers = await KnownPeers.open(config.dataDir)
    const memory = await MemoryStore.open(join(config.dataDir, 'memory'), { policies: config.namespaces })
    const blobs = await BlobStore.open({ dir: join(config.dataDir, 'blobs'), quotaBytes: config.blobs.quotaBytes, graceMs: config.blobs.graceMs, liveHashes: () => taskFileHashes(memory) })
    const blocklist = new PeerBlocklist()
    const backoff = new PeerBackoff()
    const metrics = new Registry()
    let host: Host
    let secret: Uint8Array | undefined
    // The relay serves admitted members only; admission exists once the host does, hence the late binding.
    let members: Admission | undefined
    const isMember = async (peerId: string): Promise<boolean> => await members?.whenAdmitted(peerId, ADMISSION_WAIT_MS) ?? false
    try {
      secret = config.networkSecretFile === undefined ? undefined : await loadNetworkSecret(config.networkSecretFile)
      host = await createHost({
        config,
        privateKey,
        connectionGater: mergeGaters(blocklist.gater(), backoff.gater(), relayGater(isMember)),
        metricsRegistry: metrics,
        peerScore: (peerId) => backoff.isBackedOff(peerId) || blocklist.has(peerId) ? -1_000 : 0
      })
    } catch (err) {
      await memory.close()
      throw err
    }
    const admission = new Admission({ host, secret, allowlist: allowlistIn(memory, host.peerId.toString()), log: log.child({ component: 'admission' }), backoff })
    members = admission
    const node = new PeerflowNode({ config, host, knownPeers, memory, blocklist, metrics, admission, secret, blobs, log }, options.control)
    try {
      await node.#start()
    } catch (err) {
      await node.stop()
      throw err
    }
    return node
  }

  /** Everything the node runs, in start order. Admission first: no protocol may serve a peer before its handshake. */
  #components (): NodeComponent[] {
    const control = this.#control
    return [
      {
        start: async () => { if (this.config.otlpEndpoint !== undefined) this.#tracing = await startOtlpTracing(this.config.otlpEndpoint, this.peerId) },
        stop: async () => { await this.#tracing?.shutdown().catch((err: Error) => { this.log.warn({ err: err.message }, 'could not export the last traces') }) }
      },
      this.admission,
      this.nat,
      {
        start: () => {
          this.host.addEventListener('peer:identify', this.#onIdentify)
          this.host.addEventListener('peer:disconnect', this.#onDisconnect)
        },
        stop: () => {
          this.host.removeEventListener('peer:identify', this.#onIdentify)
          this.host.removeEventListener('peer:disconnect', this.#onDisconnect)
        }
      },
      this.#peerExchange,
      this.replication.catchUp,
      this.replication.gossip,
      this.#swarmTransport,
      {
        start: async () => {
          await this.blobTransfer.start()
          this.#blobTimer = setInterval(() => {
            this.blobs.collect().catch((err: Error) => { this.log.warn({ err: err.message }, 'blob garbage collection failed') })
          }, this.config.sweepIntervalMs)
          this.#blobTimer.unref()
        },
        stop: async () => {
          clearInterval(this.#blobTimer)
          await this.blobTransfer.stop()
        }
      },
      this.swarms,
      {
        start: async () => {
          this.#patterns = await ReasoningBank.open({
            store: patternStoreIn(this.memory, this.peerId),
            embedder: createEmbedder(this.config.embedder),
            indexDir: join(this.config.dataDir, 'patterns-index'),
            onProgress: ({ done, total }) => { if (total > 0) this.log.info({ done, total }, 'rebuilding the pattern index') }
          })
          const { note } = this.#patterns.stats().index
          if (note !== undefined) this.log.warn({ reason: note }, 'pattern index uses float32 shards, not the int8 graph')
          // Not awaited: a rebuild runs in the background while queries use the exact scan.
          void this.#patterns.indexReady.then((state) => {
            if (state.state === 'failed') this.log.warn({ reason: state.reason }, 'pattern index build failed; pattern search stays on the exact scan')
            else if (this.#patterns?.indexOrigin.source === 'rebuilt') this.log.info({ patterns: this.#patterns.stats().indexed }, 'pattern index ready')
          })
        },
        stop: async () => { await this.#patterns?.close().catch((err: Error) => { this.log.warn({ err: err.message }, 'could not save the pattern index') }) }
      },
      // Before the tasks: an agent started at once finds the servers connecting; stopped after them, so none is cut off mid-call.
      {
        start: async () => {
          await this.roles.reload()
          for (const problem of this.roles.problems()) this.log.warn({ path: problem.path, line: problem.line }, `role file not loaded: ${problem.message}`)
        },
        stop: () => {}
      },
      this.mcp,
      this.tasks,
      {
        start: () => {
          this.#sweepTimer = setInterval(() => {
            this.memory.sweep().catch((err: Error) => { this.log.warn({ err: err.message }, 'TTL sweep failed') })
          }, this.config.sweepIntervalMs)
          this.#sweepTimer.unref()
        },
        stop: () => { clearInterval(this.#sweepTimer) }
      },
      {
        start: async () => {
          for (const addr of this.config.bootstrap) {
            const peerId = addr.slice(addr.lastIndexOf('/p2p/') + 5)
            this.#reconnector.keep(peerId, [addr], true)
          }
          for (const peer of this.#knownPeers.list()) {
            this.#reconnector.keep(peer.peerId, peer.addrs.map((addr) => `${addr}/p2p/${peer.peerId}`), false)
          }
          await this.#reconnector.start()
          this.#resumeDetector.start()
        },
        stop: async () => {
          this.#resumeDetector.stop()
          await this.#reconnector.stop()
        }
      },
      ...(control === undefined
        ? []
        : [{
            start: async () => { this.#apiAddress = await control.listen(this.config.api, this.config.dataDir) },
            stop: async () => { await control.close() }
          }])
    ]
  }

  async #start (): Promise<void> {
    for (const component of this.#components()) {
      await component.start()
      this.#started.push(component)
    }
    this.log.info({ peerId: this.peerId, listen: this.addresses(), api: this.#apiAddress }, 'node started')
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, listenAddrs, connection } = event.detail
    // The address we dialled worked; a peer's own list may lack it (a public address AutoNAT has
    // not confirmed yet is not advertised), so it goes first rather than being replaced.
    const dialled = connection.direction === 'outbound' && routeOf(connection).route === 'direct' ? [connection.remoteAddr.toString()] : []
    const addrs = shareableAddrs([...new Set([...dialled, ...listenAddrs.map((addr) => addr.toString())].map((addr) => addr.replace(/\/p2p\/[^/]+$/, '')))])
    // Remembered (and redialled) only once admitted: a refused outsider must not be called back.
    void this.admission.whenAdmitted(peerId.toString(), ADMISSION_WAIT_MS).then((admitted) => {
      if (!admitted) return
      this.#knownPeers.remember(peerId.toString(), addrs)
      this.#reconnector.keep(peerId.toString(), addrs.map((addr) => `${addr}/p2p/${peerId.toString()}`), false)
    })
    this.log.debug({ peer: peerId.toString() }, 'peer identified')
  }

  /**
   * This process ran again after being frozen (SIGSTOP, a suspended machine): its peers wrote
   * meanwhile and may have dropped it, so it redials without backoff and catches up with every
   * peer now, rather than waiting for dead connections to time out and the next anti-entropy round.
   */
  #onResume (frozenMs: number): void {
    this.log.info({ frozenMs: Math.round(frozenMs) }, 'resumed after being frozen: redialling and catching up')
    // Past the transport's idle timeout the connections it holds are dead or half-open: new ones for
    // every peer. A shorter freeze (or a starved process, reported every 10 s) keeps its connections.
    if (frozenMs >= QUIC_MAX_IDLE_TIMEOUT_MS) this.#reconnector.redialAfterFreeze()
    else this.#reconnector.redialNow()
    // Any few peers hold what the network wrote meanwhile (catching up with all of them was the
    // same data N times over, and a starved node mistaken for a frozen one paid it repeatedly).
    this.replication.catchUp.syncWithSome()
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    this.log.info({ peer: event.detail.toString() }, 'peer disconnected')
  }

  get peerId (): string {
    return this.host.peerId.toString()
  }

  /** The ReasoningBank; present once the node has started. */
  get patterns (): ReasoningBank {
    if (this.#patterns === undefined) throw new Error('the ReasoningBank is not open yet')
    return this.#patterns
  }

  get apiAddress (): string {
    return this.#apiAddress
  }

  /** Dialable addresses, each ending in /p2p/<PeerId>. */
  addresses (): string[] {
    return this.host.getMultiaddrs().map((addr) => addr.toString())
  }

  /**
   * Joining a swarm subscribes to its namespaces and catches up with every peer (the leader that
   * admitted this node has the new definition, so it serves at once; members that have not seen it
   * yet refuse, hence a second round shortly after). Leaving unsubscribes; what is stored stays.
   */
  #onMembershipChange ({ joined, left }: MembershipChange): void {
    const changed = new Set([...joined, ...left])
    const namespaces = new Set([
      ...[...changed].map(swarmNamespace),
      ...this.memory.namespaceNames().filter((name) => changed.has(swarmOfNamespace(name) ?? ''))
    ])
    this.replication.gossip.rescope([...namespaces])
    if (joined.length === 0) return
    this.replication.catchUp.syncWithAll()
    setTimeout(() => { if (this.#stopping === undefined) this.replication.catchUp.syncWithAll() }, MEMBERSHIP_RESYNC_MS).unref()
  }

  status (): NodeStatus {
    return {
      peerId: this.peerId,
      version: VERSION,
      nodeVersion: process.version,
      startedAt: this.startedAt,
      uptimeMs: Date.now() - this.startedAt,
      listen: this.addresses(),
      api: this.#apiAddress,
      peerCount: this.host.getPeers().length,
      dataDir: this.config.dataDir,
      transports: { quic: this.config.quic, tcp: this.config.tcp },
      admission: this.admission.mode,
      reachability: this.nat.reachability,
      nat: this.nat.status(),
      replication: this.replicationStatus()
    }
  }

  replicationStatus (): ReplicationStatus {
    const { stats, scope, catchUp } = this.replication
    const stored = new Map(this.memory.namespaces().map((info) => [info.name, info.bytes]))
    const names = [...new Set([...stored.keys(), ...stats.receivedByNamespace.keys()])].sort()
    const namespaces = names.map((namespace) => {
      const received = stats.receivedByNamespace.get(namespace) ?? { gossip: 0, sync: 0 }
      return { namespace, gossipBytes: received.gossip, syncBytes: received.sync, storedBytes: stored.get(namespace) ?? 0 }
    })
    return {
      scoped: scope.scoped,
      swarms: scope.swarms(),
      bytesReceived: {
        gossip: namespaces.reduce((sum, row) => sum + row.gossipBytes, 0),
        sync: stats.syncBytesReceived,
        updates: namespaces.reduce((sum, row) => sum + row.gossipBytes + row.syncBytes, 0)
      },
      namespaces,
      refusals: catchUp.refusals()
    }
  }

  /** One row per connected peer, preferring a direct connection, then QUIC, when it has several. */
  peers (): PeerInfo[] {
    const byPeer = new Map<string, PeerInfo>()
    for (const connection of this.host.getConnections()) {
      if (connection.status !== 'open') continue
      const peerId = connection.remotePeer.toString()
      const info: PeerInfo = {
        peerId,
        address: connection.remoteAddr.toString(),
        transport: transportOf(connection.remoteAddr),
        direction: connection.direction,
        rttMs: connection.rtt ?? null,
        connectedSince: connection.timeline.open,
        connections: 1,
        admitted: this.admission.isAdmitted(peerId),
        ...routeFields(routeOf(connection))
      }
      const existing = byPeer.get(peerId)
      if (existing === undefined) byPeer.set(peerId, info)
      else byPeer.set(peerId, { ...preferred(existing, info), connections: existing.connections + 1 })
    }
    return [...byPeer.values()].sort((a, b) => a.peerId.localeCompare(b.peerId))
  }

  /** Dials a peer and keeps it connected (redialled on loss and after a restart). */
  async join (addr: Multiaddr, signal: AbortSignal): Promise<PeerInfo> {
    const target = addr.getComponents().find((component) => component.name === 'p2p')?.value
    if (target === this.peerId) throw new PeerflowError('invalid', 'that multiaddr is this node itself')
    if (target !== undefined) {
      const retry = this.admission.retryNow(target)
      if (!retry.allowed) {
        throw new PeerflowError('conflict', `${target} was disconnected for abusing this node; it may connect again in ${Math.ceil(retry.remainingMs / 1000)} s`)
      }
    }
    const timeout = AbortSignal.timeout(this.config.dialTimeoutMs)
    let connection
    try {
      connection = await this.host.dial(addr, { signal: AbortSignal.any([signal, timeout]) })
    } catch (err) {
      if (timeout.aborted) throw new PeerflowError('timeout', `peer unreachable at ${addr.toString()}: no answer within ${this.config.dialTimeoutMs} ms`)
      throw new PeerflowError('unreachable', `cannot connect to ${addr.toString()}: ${(err as Error).message}`)
    }
    const peerId = connection.remotePeer.toString()
    if (!await this.admission.whenAdmitted(peerId, ADMISSION_WAIT_MS)) {
      const refusal = this.admission.refused().filter((r) => r.peerId === peerId).at(-1)
      throw new PeerflowError('forbidden', `${peerId} is not admitted to this network: ${refusal?.detail ?? 'no handshake'}${refusal === undefined ? '' : ` (${refusal.reason})`}`)
    }
    const withId = target === undefined ? `${addr.toString()}/p2p/${peerId}` : addr.toString()
    this.#reconnector.keep(peerId, [withId], false)
    this.#knownPeers.remember(peerId, [withId.replace(/\/p2p\/[^/]+$/, '')])
    this.log.info({ peer: peerId, addr: addr.toString() }, 'joined peer')
    const info = this.peers().find((peer) => peer.peerId === peerId)
    if (info === undefined) throw new PeerflowError('unreachable', `connection to ${peerId} closed right after it opened`)
    return info
  }

  /** Disconnects from a peer and stops redialling it. */
  async leave (peerId: string): Promise<{ peerId: string, disconnected: boolean }> {
    const connections = this.host.getConnections().filter((connection) => connection.remotePeer.toString() === peerId)
    this.#reconnector.release(peerId)
    this.#knownPeers.forget(peerId)
    await Promise.all(connections.map(async (connection) => { await connection.close() }))
    return { peerId, disconnected: connections.length > 0 }
  }

  /** A peer that broke a limit: disconnected and backed off like a failed handshake. */
  async #punish (peerId: string, reason: string): Promise<void> {
    this.log.warn({ peer: peerId, reason }, 'disconnecting an abusive peer')
    this.admission.punish(peerId, reason)
    // Not called back: it may return by itself once its backoff is over, and is remembered again
    // only if it is admitted then. Calling it back would also race its own redial at that moment.
    this.#reconnector.releaseLearned(peerId)
    this.#knownPeers.forget(peerId)
    // A fresh violation count: if it comes back and floods again, it is punished again at once.
    this.#gossipLimiter.forget(peerId)
  }

  /** Refuses every connection with `peerId` until unblocked, closing the open ones now. */
  async block (peerId: string): Promise<{ peerId: string, blocked: true }> {
    this.blocklist.block(peerId)
    this.#reconnector.release(peerId)
    const connections = this.host.getConnections().filter((connection) => connection.remotePeer.toString() === peerId)
    // A graceful close can fail when the peer closes at the same moment (both sides blocking each
    // other); the block already holds, so such a connection is aborted instead of failing the call.
    await Promise.all(connections.map(async (connection) => {
      await connection.close().catch((err: unknown) => { connection.abort(err instanceof Error ? err : new Error('close failed')) })
    }))
    this.log.info({ peer: peerId }, 'peer blocked')
    return { peerId, blocked: true }
  }

  unblock (peerId: string): { peerId: string, unblocked: boolean } {
    const unblocked = this.blocklist.unblock(peerId)
    const known = this.#knownPeers.list().find((peer) => peer.peerId === peerId)
    if (known !== undefined) {
      this.#reconnector.keep(peerId, known.addrs.map((addr) => `${addr}/p2p/${peerId}`), false)
      // The partition is over: redial now, and catch up on connecting (see catch-up.ts), not at the next check.
      this.#reconnector.redialNow(peerId)
    }
    return { peerId, unblocked }
  }

  /** Stops everything; safe to call more than once. */
  async stop (): Promise<void> {
    this.#stopping ??= this.#stop()
    await this.#stopping
  }

  async #stop (): Promise<void> {
    for (const component of this.#started.splice(0).reverse()) {
      try {
        await component.stop()
      } catch (err) {
        this.log.warn({ component: component.constructor.name, err: (err as Error).message }, 'a component failed to stop cleanly')
      }
    }
    await this.host.stop()
    this.replication.scope.close()
    await this.memory.close()
    await this.#knownPeers.flush()
    this.log.info('node stopped')
  }
}

function routeFields ({ route, relay, limited }: ConnectionRoute): Pick<PeerInfo, 'route' | 'relay' | 'limited'> {
  return { route, relay, limited }
}

/** Which of a peer's connections `peers` shows: direct beats relayed (DCUtR closes the relayed one soon), then QUIC. */
function preferred (a: PeerInfo, b: PeerInfo): PeerInfo {
  if (a.route !== b.route) return a.route === 'direct' ? a : b
  return b.transport === 'quic' && a.transport !== 'quic' ? b : a
}
