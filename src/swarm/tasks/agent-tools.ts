import { z } from 'zod'
import { isNamespaceName, NAMESPACES } from '../../../crdt/index.ts'
import { defineTool, type AgentTool } from '../../agents/index.ts'
import type { PatternBank, SharedMemory } from './ports.ts'

const DEFAULT_AGENT_NAMESPACE = NAMESPACES.sharedKnowledge
const MAX_LISTED = 50
const MAX_VALUE_CHARS = 16_000

export interface AgentToolOptions {
  memory: SharedMemory
  patterns: () => PatternBank | undefined
  /** Namespaces agents may read but not write: the node's own bookkeeping (tasks, swarms, patterns). */
  readOnlyNamespaces: readonly string[]
}

const namespaceField = z.string().optional().describe(`replicated memory namespace (default ${DEFAULT_AGENT_NAMESPACE})`)

function namespaceOf (requested: string | undefined): string {
  const namespace = requested ?? DEFAULT_AGENT_NAMESPACE
  if (!isNamespaceName(namespace)) throw new Error(`invalid namespace '${namespace}': use a-z 0-9 . _ - starting with a letter or digit`)
  return namespace
}

function requireBank (patterns: () => PatternBank | undefined): PatternBank {
  const bank = patterns()
  if (bank === undefined) throw new Error('the ReasoningBank is not open on this node')
  return bank
}

/**
 * The tools every task agent gets: read and write replicated memory (shared with every node), and
 * query and store ReasoningBank patterns. Writes land under the agent's node as author.
 */
export function agentTools (options: AgentToolOptions): AgentTool[] {
  const { memory, patterns, readOnlyNamespaces } = options
  return [
    defineTool({
      name: 'memory_write',
      description: 'Store a value in replicated memory, shared with every node in the network. Use it to record findings other agents may need.',
      input: z.object({ key: z.string().min(1).max(256), value: z.string().max(MAX_VALUE_CHARS), namespace: namespaceField }),
      run: async ({ key, value, namespace }) => {
        const target = namespaceOf(namespace)
        if (readOnlyNamespaces.includes(target)) throw new Error(`namespace '${target}' is maintained by peerflow itself and is read-only to agents`)
        await memory.put(target, key, value)
        return `stored ${target}/${key}`
      }
    }),
    defineTool({
      name: 'memory_read',
      description: 'Read one value from replicated memory by key.',
      input: z.object({ key: z.string().min(1).max(256), namespace: namespaceField }),
      run: async ({ key, namespace }) => {
        const target = namespaceOf(namespace)
        const entry = memory.get(target, key)
        if (entry === undefined) throw new Error(`no entry '${key}' in namespace '${target}'`)
        return { key: entry.key, value: entry.value, author: entry.author, updatedAt: new Date(entry.updatedAt).toISOString() }
      }
    }),
    defineTool({
      name: 'memory_list',
      description: `List keys in a replicated memory namespace (at most ${MAX_LISTED}), optionally under a prefix.`,
      input: z.object({ namespace: namespaceField, prefix: z.string().max(256).optional() }),
      run: async ({ namespace, prefix }) => {
        const entries = memory.list(namespaceOf(namespace), prefix)
        return { total: entries.length, keys: entries.slice(0, MAX_LISTED).map((entry) => entry.key) }
      }
    }),
    defineTool({
      name: 'patterns_query',
      description: 'Search the ReasoningBank for learned patterns relevant to a question; best matches first.',
      input: z.object({ text: z.string().min(1).max(2_000), limit: z.number().int().min(1).max(10).optional() }),
      run: async ({ text, limit }) => {
        const matches = await requireBank(patterns).query(text, { limit: limit ?? 5 })
        return matches.map(({ pattern, score }) => ({ name: pattern.name, content: pattern.content, confidence: pattern.confidence, score: Number(score.toFixed(3)) }))
      }
    }),
    defineTool({
      name: 'pattern_store',
      description: 'Record a reusable pattern (what worked, and when to apply it) in the ReasoningBank.',
      input: z.object({ name: z.string().min(1).max(256), content: z.string().min(1).max(MAX_VALUE_CHARS), namespace: z.string().max(64).optional() }),
      run: async ({ name, content, namespace }) => {
        const stored = await requireBank(patterns).storePattern({ name, content, namespace: namespace ?? 'general' })
        return `stored pattern ${stored.name}`
      }
    })
  ]
}
