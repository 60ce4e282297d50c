import { PeerflowError, swarmOfNamespace } from '../../crdt/index.ts'
import { refusalFor } from '../../protocols/namespace-scope.ts'
import type { SwarmDefinitionStore } from '../../src/swarm/ports.ts'

export interface MembershipChange {
  joined: string[]
  left: string[]
}

/**
 * Which namespaces this node replicates, and which a peer may be sent (PROTOCOL.md, "Namespace
 * scope"), read from the replicated swarm definitions. With scoping off every node replicates
 * every namespace, as before scoping existed: the baseline replication benchmarks compare with.
 */
export class ReplicationScope {
  readonly #self: string
  readonly #definitions: Pick<SwarmDefinitionStore, 'get' | 'list' | 'onChange'>
  readonly #scoped: boolean
  readonly #listeners = new Set<(change: MembershipChange) => void>()
  readonly #unsubscribe: () => void
  #swarms: Set<string>

  constructor (self: string, definitions: Pick<SwarmDefinitionStore, 'get' | 'list' | 'onChange'>, scoped: boolean) {
    this.#self = self
    this.#definitions = definitions
    this.#scoped = scoped
    this.#swarms = this.#memberOf()
    this.#unsubscribe = definitions.onChange(() => { this.#refresh() })
  }

  close (): void {
    this.#unsubscribe()
    this.#listeners.clear()
  }

  get scoped (): boolean {
    return this.#scoped
  }

  /** Swarms whose namespaces this node replicates: those it is a member of (every known swarm, unscoped). */
  swarms (): string[] {
    if (!this.#scoped) return this.#definitions.list().map((definition) => definition.name).sort()
    return [...this.#swarms].sort()
  }

  /** Whether this node holds, subscribes to and asks for `namespace`. */
  replicates (namespace: string): boolean {
    if (!this.#scoped) return true
    const swarm = swarmOfNamespace(namespace)
    return swarm === undefined || this.#swarms.has(swarm)
  }

  /** Why `peer` may not be sent `namespace`, or undefined when it may. */
  refusalFor (peer: string, namespace: string): string | undefined {
    if (!this.#scoped) return undefined
    return refusalFor(namespace, peer, (swarm) => this.#definitions.get(swarm)?.members)
  }

  /** Throws a clear `forbidden` error for a namespace this node does not replicate. */
  assertReplicates (namespace: string): void {
    if (this.replicates(namespace)) return
    const swarm = swarmOfNamespace(namespace) as string
    throw new PeerflowError('forbidden', `this node does not replicate namespace '${namespace}': it belongs to swarm '${swarm}', which this node is not a member of (join the swarm to replicate it)`)
  }

  /** Calls `listener` with the swarms joined and left whenever this node's memberships change. */
  onChange (listener: (change: MembershipChange) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  #refresh (): void {
    const now = this.#memberOf()
    const change = {
      joined: [...now].filter((swarm) => !this.#swarms.has(swarm)),
      left: [...this.#swarms].filter((swarm) => !now.has(swarm))
    }
    this.#swarms = now
    if (change.joined.length === 0 && change.left.length === 0) return
    for (const listener of this.#listeners) listener(change)
  }

  #memberOf (): Set<string> {
    return new Set(this.#definitions.list().filter((definition) => definition.members.includes(this.#self)).map((definition) => definition.name))
  }
}
