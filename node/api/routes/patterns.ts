import { PeerflowError } from '../../../crdt/index.ts'
import { type ListSort } from '../../../src/reasoningbank/index.ts'
import { requireString, type Route } from '../route.ts'
import type { PatternConsolidateReply, PatternForgetReply, PatternOutcomeReply, PatternListReply, PatternQueryReply, PatternReply, PatternStatsReply } from '../types.ts'

function optionalNumber (value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined
  const parsed = Number(value)
  if (!Number.isFinite(parsed)) throw new PeerflowError('invalid', `${field} must be a number`)
  return parsed
}

export const patternStoreRoute: Route = {
  method: 'POST',
  path: '/patterns',
  handle: async ({ node, body }): Promise<PatternReply> => {
    const fields = body as { confidence?: unknown, metadata?: unknown }
    const metadata = fields.metadata ?? {}
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new PeerflowError('invalid', 'metadata must be an object')
    return {
      pattern: await node.patterns.storePattern({
        name: requireString(body, 'name'),
        content: requireString(body, 'content'),
        namespace: requireString(body, 'namespace'),
        confidence: optionalNumber(fields.confidence, 'confidence'),
        metadata: metadata as Record<string, unknown>
      })
    }
  }
}

export const patternQueryRoute: Route = {
  method: 'POST',
  path: '/patterns/query',
  handle: async ({ node, body }): Promise<PatternQueryReply> => {
    const fields = (body ?? {}) as { text?: unknown, namespace?: unknown, minConfidence?: unknown, limit?: unknown, explain?: unknown }
    if (typeof fields.text !== 'string') throw new PeerflowError('invalid', "missing field 'text'")
    const started = performance.now()
    const matches = await node.patterns.query(fields.text, {
      namespace: typeof fields.namespace === 'string' ? fields.namespace : undefined,
      minConfidence: optionalNumber(fields.minConfidence, 'minConfidence'),
      limit: optionalNumber(fields.limit, 'limit'),
      explain: fields.explain === true
    })
    return { matches, embedder: node.patterns.embedder.id, tookMs: performance.now() - started }
  }
}

export const patternOutcomeRoute: Route = {
  method: 'POST',
  path: '/patterns/outcome',
  handle: async ({ node, body }): Promise<PatternOutcomeReply> => {
    const fields = (body ?? {}) as { names?: unknown, success?: unknown }
    if (!Array.isArray(fields.names) || fields.names.length === 0 || fields.names.some((name) => typeof name !== 'string')) {
      throw new PeerflowError('invalid', 'names must be a non-empty array of pattern names')
    }
    if (typeof fields.success !== 'boolean') throw new PeerflowError('invalid', 'success must be true or false')
    return { patterns: await node.patterns.recordOutcome(fields.names as string[], fields.success) }
  }
}

export const patternListRoute: Route = {
  method: 'GET',
  path: '/patterns',
  handle: async ({ node, query }): Promise<PatternListReply> => ({
    patterns: node.patterns.list({
      namespace: query.get('namespace') ?? undefined,
      sort: (query.get('sort') ?? undefined) as ListSort | undefined,
      limit: optionalNumber(query.get('limit'), 'limit')
    })
  })
}

export const patternStatsRoute: Route = {
  method: 'GET',
  path: '/patterns/stats',
  handle: ({ node }): PatternStatsReply => node.patterns.stats()
}

export const patternForgetRoute: Route = {
  method: 'DELETE',
  path: '/patterns/:name',
  handle: async ({ node, params }): Promise<PatternForgetReply> => {
    const forgotten = await node.patterns.forget(params.name as string)
    if (!forgotten) throw new PeerflowError('not-found', `no pattern named '${params.name}'`)
    return { forgotten }
  }
}

export const patternConsolidateRoute: Route = {
  method: 'POST',
  path: '/patterns/consolidate',
  handle: async ({ node, body }): Promise<PatternConsolidateReply> => node.patterns.consolidate({ dryRun: (body as { dryRun?: unknown } | null)?.dryRun === true })
}
