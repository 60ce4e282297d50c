import {
  InvalidEntryError, InvalidNamespaceError, NamespaceLimitError, StoreUnavailableError, type Entry, type JsonValue
} from '../../../crdt/index.ts'
import type { PeerflowNode } from '../../node.ts'
import { HttpError, requireString, type Route } from '../route.ts'

/** Store errors as HTTP answers: bad input 400, a full namespace 409, a closed store 503. */
function asHttpError (err: unknown): unknown {
  if (err instanceof InvalidEntryError || err instanceof InvalidNamespaceError) return new HttpError(400, err.message)
  if (err instanceof NamespaceLimitError) return new HttpError(409, err.message)
  if (err instanceof StoreUnavailableError) return new HttpError(503, err.message)
  return err
}

function requireNamespace (node: PeerflowNode, namespace: string): void {
  const known = node.memory.namespaces().map((info) => info.name)
  if (!known.includes(namespace)) {
    throw new HttpError(404, `unknown namespace '${namespace}' (known: ${known.join(', ') || 'none'})`)
  }
}

export const memoryNamespacesRoute: Route = {
  method: 'GET',
  path: '/memory',
  handle: ({ node }) => {
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
        replicasInSync: node.replication.peersInSync(info.name).length,
        peers
      }))
    }
  }
}

export const memoryStoreRoute: Route = {
  method: 'POST',
  path: '/memory/:namespace',
  handle: async ({ node, params, body }) => {
    const key = requireString(body, 'key')
    const fields = body as { value?: JsonValue, ttlMs?: unknown, tags?: unknown }
    if (fields.value === undefined) throw new HttpError(400, "missing field 'value'")
    if (fields.ttlMs !== undefined && (typeof fields.ttlMs !== 'number' || !Number.isSafeInteger(fields.ttlMs) || fields.ttlMs <= 0)) {
      throw new HttpError(400, 'ttlMs must be a positive integer')
    }
    if (fields.tags !== undefined && (!Array.isArray(fields.tags) || fields.tags.some((tag) => typeof tag !== 'string'))) {
      throw new HttpError(400, 'tags must be an array of strings')
    }
    try {
      const entry: Entry = await node.memory.put(params.namespace as string, key, fields.value, {
        author: node.peerId,
        ttlMs: fields.ttlMs as number | undefined,
        tags: fields.tags as string[] | undefined
      })
      return { entry }
    } catch (err) {
      throw asHttpError(err)
    }
  }
}

export const memoryGetRoute: Route = {
  method: 'GET',
  path: '/memory/:namespace/:key',
  handle: ({ node, params }) => {
    const namespace = params.namespace as string
    requireNamespace(node, namespace)
    const entry = node.memory.get(namespace, params.key as string)
    if (entry === undefined) throw new HttpError(404, `no entry '${params.key}' in namespace '${namespace}'`)
    return { entry }
  }
}

export const memoryListRoute: Route = {
  method: 'GET',
  path: '/memory/:namespace',
  handle: ({ node, params, query }) => {
    const namespace = params.namespace as string
    requireNamespace(node, namespace)
    return { namespace, entries: node.memory.list(namespace, { prefix: query.get('prefix') ?? undefined }) }
  }
}

export const memoryDeleteRoute: Route = {
  method: 'DELETE',
  path: '/memory/:namespace/:key',
  handle: async ({ node, params }) => {
    const namespace = params.namespace as string
    requireNamespace(node, namespace)
    try {
      return { deleted: await node.memory.delete(namespace, params.key as string) }
    } catch (err) {
      throw asHttpError(err)
    }
  }
}
