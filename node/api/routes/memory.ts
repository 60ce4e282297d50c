import { PeerflowError, type Entry, type EntryWrite, type JsonValue } from '../../../crdt/index.ts'
import type { PeerflowNode } from '../../core/peerflow-node.ts'
import type { Route } from '../route.ts'
import { MAX_BATCH_ENTRIES, type EntryReply, type MemoryBatchReply, type MemoryDeleteReply, type MemoryListReply, type NamespacesReply } from '../types.ts'

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

/** One entry of a write request, its optional fields checked; `where` names it in errors. */
function entryWriteOf (body: unknown, where = ''): EntryWrite {
  const fields = (body ?? {}) as { key?: unknown, value?: JsonValue, ttlMs?: unknown, tags?: unknown }
  const key = fields.key
  if (typeof key !== 'string' || key === '') throw new PeerflowError('invalid', `missing field 'key'${where}`)
  if (fields.value === undefined) throw new PeerflowError('invalid', `missing field 'value'${where}`)
  if (fields.ttlMs !== undefined && (typeof fields.ttlMs !== 'number' || !Number.isSafeInteger(fields.ttlMs) || fields.ttlMs <= 0)) {
    throw new PeerflowError('invalid', `ttlMs must be a positive integer${where}`)
  }
  if (fields.tags !== undefined && (!Array.isArray(fields.tags) || fields.tags.some((tag) => typeof tag !== 'string'))) {
    throw new PeerflowError('invalid', `tags must be an array of strings${where}`)
  }
  return { key, value: fields.value, ttlMs: fields.ttlMs as number | undefined, tags: fields.tags as string[] | undefined }
}

export const memoryStoreRoute: Route = {
  method: 'POST',
  path: '/memory/:namespace',
  handle: async ({ node, params, body }): Promise<EntryReply> => {
    const { key, value, ttlMs, tags } = entryWriteOf(body)
    node.replication.scope.assertReplicates(params.namespace as string)
    const entry: Entry = await node.memory.put(params.namespace as string, key, value, { author: node.peerId, ttlMs, tags })
    return { entry }
  }
}

/** Writes all the entries of the body or none, as one update: for imports and bursts of writes. */
export const memoryStoreBatchRoute: Route = {
  method: 'POST',
  path: '/memory/:namespace/batch',
  handle: async ({ node, params, body }): Promise<MemoryBatchReply> => {
    const entries = (body as { entries?: unknown } | undefined)?.entries
    if (!Array.isArray(entries) || entries.length === 0) throw new PeerflowError('invalid', "field 'entries' must be a non-empty array")
    if (entries.length > MAX_BATCH_ENTRIES) {
      throw new PeerflowError('invalid', `a batch holds at most ${MAX_BATCH_ENTRIES} entries, not ${entries.length}`)
    }
    const writes = entries.map((entry: unknown, i) => entryWriteOf(entry, ` (entry ${i})`))
    node.replication.scope.assertReplicates(params.namespace as string)
    return { entries: await node.memory.putMany(params.namespace as string, writes, { author: node.peerId }) }
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
