import { swarmOfNamespace } from '../crdt/index.ts'

/**
 * Who may hold a namespace (PROTOCOL.md, "Namespace scope"), as pure functions over the swarm
 * definitions a node knows. A network-wide namespace goes to every admitted peer; a swarm-scoped one
 * (`swarm.<name>`, `swarm.<name>.<part>`) only to the swarm's members, and only when they ask for it.
 */

/** Members of a swarm per this node's definitions; undefined for a swarm it has no definition of. */
export type MembersOf = (swarm: string) => readonly string[] | undefined

/** Why `peer` may not hold `namespace`, or undefined when it may. */
export function refusalFor (namespace: string, peer: string, membersOf: MembersOf): string | undefined {
  const swarm = swarmOfNamespace(namespace)
  if (swarm === undefined) return undefined
  const members = membersOf(swarm)
  if (members === undefined) return `namespace '${namespace}' belongs to swarm '${swarm}', which this node has no definition of`
  if (!members.includes(peer)) return `namespace '${namespace}' is replicated only to members of swarm '${swarm}', and you are not one`
  return undefined
}

export interface SendPlan {
  /** Namespaces whose missing updates go to the peer, in the order given as `ours`. */
  send: string[]
  /** Scoped namespaces the peer asked for and may not have, with the reason it is told. */
  refused: Array<{ namespace: string, reason: string }>
}

/**
 * What one side of a catch-up sends after the peer's hello. Network-wide namespaces go whether the
 * peer listed them or not (that is how it learns a namespace exists); a scoped one only when the
 * peer listed it and may hold it. A scoped namespace listed by a peer that may not hold it is refused.
 */
export function planSend (ours: Iterable<string>, asked: Iterable<string>, mayHold: (namespace: string) => string | undefined): SendPlan {
  const askedFor = new Set(asked)
  const refused: SendPlan['refused'] = []
  const refusedNames = new Set<string>()
  for (const namespace of askedFor) {
    if (swarmOfNamespace(namespace) === undefined) continue
    const reason = mayHold(namespace)
    if (reason !== undefined) {
      refused.push({ namespace, reason })
      refusedNames.add(namespace)
    }
  }
  const send = [...ours].filter((namespace) =>
    swarmOfNamespace(namespace) === undefined || (askedFor.has(namespace) && !refusedNames.has(namespace)))
  return { send, refused }
}
