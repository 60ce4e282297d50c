import { PeerflowError } from '../../../crdt/index.ts'
import {
  type Entry, type JsonValue
} from '../../../crdt/index.ts'
import type { PeerflowNode } from '../../core/peerflow-node.ts'
import { requireString, type Route } from '../route.ts'
import type { EntryReply, MemoryDeleteReply, MemoryListReply, NamespacesReply } from '../types.ts'

function requireNamespace (node: PeerflowNode, namespace: string): void {
  node.replication.scope.assertReplicates(namespace)
  const known = node.memory.namespaceNames()
  if (!known.includes(namespace)) {
    throw new PeerflowError('not-found', `unknown namespace '${namespace}' (known: ${known.join(', ') || 'none'})`)
  }
}

export const memoryNamespacesRoute: Route = {
  method: 'GET',
  path: '/memory',
  handle: ({ node }): NamespacesReply => {
    const peers = node.host.getPeers().length
    return {
      namespaces: node.memory.namespaces().map((info) => ({
        name: info.name,
        entries: info.entries,
        bytes: info.bytes,
        defaultTtlMs: info.policy.defaultTtlMs,
        maxEntries: info.policy.maxEntries,
        maxBytes: info.policy.maxBytes,
        lastUpdate: info.lastUpdate ?? null,
        replicasInSync: node.replication.catchUp.peersInSync(info.name).length,
        peers
      }))
    }
  }
}

export const memoryStoreRoute: Route = {
  method: 'POST',
  path: '/memory/:namespace',
  handle: async ({ node, params, body }): Promise<EntryReply> => {
    const key = requireString(body, 'key')
    const fields = body as { value?: JsonValue, ttlMs?: unknown, tags?: unknown }
    if (fields.value === undefined) throw new PeerflowError('invalid', "missing field 'value'")
    if (fields.ttlMs !== undefined && (typeof fields.ttlMs !== 'number' || !Number.isSafeInteger(fields.ttlMs) || fields.ttlMs <= 0)) {
      throw new PeerflowError('invalid', 'ttlMs must be a positive integer')
    }
    if (fields.tags !== undefined && (!Array.isArray(fields.tags) || fields.tags.some((tag) => typeof tag !== 'string'))) {
      throw new PeerflowError('invalid', 'tags must be an array of strings')
    }
    node.replication.scope.assertReplicates(params.namespace as string)
    const entry: Entry = await node.memory.put(params.namespace as string, key, fields.value, {
      author: node.peerId,
      ttlMs: fields.ttlMs as number | undefined,
      tags: fields.tags as string[] | undefined
    })
    return { entry }
  }
}

export const memoryGetRoute: Route = {
  method: 'GET',
  path: '/memory/:namespace/:key',
  handle: ({ node, params }): EntryReply => {
    const namespace = params.namespace as string
    requireNamespace(node, namespace)
    const entry = node.memory.get(namespace, params.key as string)
    if (entry === undefined) throw new PeerflowError('not-found', `no entry '${params.key}' in namespace '${namespace}'`)
    return { entry }
  }
}

export const memoryListRoute: Route = {
  method: 'GET',
  path: '/memory/:namespace',
  handle: ({ node, params, query }): MemoryListReply => {
    const namespace = params.namespace as string
    requireNamespace(node, namespace)
    return { namespace, entries: node.memory.list(namespace, { prefix: query.get('prefix') ?? undefined }) }
  }
}

export const memoryDeleteRoute: Route = {
  method: 'DELETE',
  path: '/memory/:namespace/:key',
  handle: async ({ node, params }): Promise<MemoryDeleteReply> => {
    const namespace = params.namespace as string
    requireNamespace(node, namespace)
    return { deleted: await node.memory.delete(namespace, params.key as string) }
  }
}
