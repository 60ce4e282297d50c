/**
 * Every replicated namespace peerflow itself uses, in one place. Users may create others; these are
 * the ones code refers to by name.
 */
export const NAMESPACES = Object.freeze({
  /** Network-wide knowledge: the default for `memory` commands and agents' memory tools. */
  sharedKnowledge: 'shared-knowledge',
  /** Short-lived swarm coordination state. */
  swarmState: 'swarm-state',
  /** Queued work waiting for a swarm. */
  taskQueue: 'task-queue',
  /** Task records: submissions, claims, attempts, results. */
  tasks: 'tasks',
  /** Swarm definitions: topology, members, roles. */
  swarms: 'swarms',
  /** ReasoningBank patterns. */
  patterns: 'patterns',
  /** The network's PeerId allowlist. */
  membership: 'membership'
})

/** Namespace names travel in topics, keys and frames: keep them short and plain. */
const NAMESPACE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

export function isNamespaceName (name: unknown): name is string {
  return typeof name === 'string' && NAMESPACE_NAME.test(name)
}

/**
 * A swarm's own namespace: its task records and coordination state. Swarm-scoped namespaces are
 * replicated only to the swarm's members (PROTOCOL.md, "Namespace scope"); every other namespace is
 * network-wide. `swarm.<name>` and `swarm.<name>.<part>` both belong to swarm `<name>`; swarm names
 * hold no dot, so the swarm a name belongs to is never ambiguous.
 */
const SWARM_SCOPED = /^swarm\.([a-z0-9][a-z0-9_-]{0,47})(?:\.[a-z0-9._-]+)?$/

/** The namespace of swarm `swarm`'s task records. */
export function swarmNamespace (swarm: string): string {
  return `swarm.${swarm}`
}

/** The swarm a namespace is scoped to, or undefined for a network-wide namespace. */
export function swarmOfNamespace (namespace: string): string | undefined {
  return SWARM_SCOPED.exec(namespace)?.[1]
}
