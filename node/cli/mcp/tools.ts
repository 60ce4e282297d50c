import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import type { JsonValue, TaskReport } from '../../api/types.ts'
import type { PeerflowClient } from '../peerflow-client.ts'

/**
 * The tools `peerflow mcp` offers: few and plainly described, since every tool's description
 * costs the host model context on every turn.
 */

const DEFAULT_WAIT_SECONDS = 300
const MAX_WAIT_SECONDS = 3_600

const namespace = z.string().min(1).max(64).describe("memory namespace, e.g. 'shared-knowledge' (replicated to every node)")
const key = z.string().min(1).max(512).describe('entry key')
const jsonValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown()), z.record(z.string(), z.unknown())])
const taskId = z.string().min(1).max(128).describe('task id, as returned by task_submit')

function text (value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }] }
}

/** A failure the host model can read and act on: the node's own message, never a stack. */
function failure (err: unknown): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: err instanceof Error ? err.message : String(err) }] }
}

async function guarded (run: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    return text(await run())
  } catch (err) {
    return failure(err)
  }
}

/** A task without its transcript and attempt log: what a host needs to decide what to do next. */
function taskBrief (task: TaskReport): Record<string, unknown> {
  return {
    id: task.id,
    state: task.state,
    swarm: task.swarm,
    role: task.role,
    assignee: task.assignee,
    attempts: `${task.attempts}/${task.maxAttempts}`,
    progress: task.progress,
    result: task.result,
    error: task.error,
    costUsd: task.costUsd,
    model: task.model
  }
}

export function registerTools (server: McpServer, client: PeerflowClient): void {
  server.registerTool('memory_put', {
    title: 'Store in shared memory',
    description: 'Write a JSON value under a key in a replicated memory namespace; it is durable on this node when the call returns and reaches every peer by gossip.',
    inputSchema: {
      namespace,
      key,
      value: jsonValue.describe('any JSON value'),
      ttlSeconds: z.number().int().positive().optional().describe("expire after this many seconds (default: the namespace's policy)"),
      tags: z.array(z.string().max(64)).max(16).optional().describe('labels to find the entry by')
    }
  }, async ({ namespace, key, value, ttlSeconds, tags }) => guarded(async () => {
    const entry = await client.memory.put(namespace, key, value as JsonValue, { ttlMs: ttlSeconds === undefined ? undefined : ttlSeconds * 1000, tags })
    return { stored: `${namespace}/${key}`, entry }
  }))

  server.registerTool('memory_get', {
    title: 'Read from shared memory',
    description: 'Read the entry under a key in a memory namespace: its value, author, timestamps and tags.',
    inputSchema: { namespace, key },
    annotations: { readOnlyHint: true }
  }, async ({ namespace, key }) => guarded(async () => {
    const entry = await client.memory.get(namespace, key)
    if (entry === undefined) throw new Error(`no entry '${key}' in namespace '${namespace}'`)
    return entry
  }))

  server.registerTool('memory_list', {
    title: 'List shared memory',
    description: 'List the entries of a memory namespace, optionally only keys starting with a prefix.',
    inputSchema: { namespace, prefix: z.string().max(512).optional().describe('only keys starting with this') },
    annotations: { readOnlyHint: true }
  }, async ({ namespace, prefix }) => guarded(async () => client.memory.list(namespace, { prefix })))

  server.registerTool('memory_delete', {
    title: 'Delete from shared memory',
    description: 'Delete an entry on every node.',
    inputSchema: { namespace, key },
    annotations: { destructiveHint: true }
  }, async ({ namespace, key }) => guarded(async () => ({ deleted: await client.memory.delete(namespace, key) })))

  server.registerTool('patterns_query', {
    title: 'Search learned patterns',
    description: 'Find the ReasoningBank patterns closest in meaning to a question, best first, with their confidence.',
    inputSchema: {
      question: z.string().min(1).max(4096).describe('what you want guidance on'),
      namespace: z.string().max(64).optional().describe("only this pattern namespace, e.g. 'security'"),
      minConfidence: z.number().min(0).max(1).optional().describe('skip patterns below this confidence'),
      limit: z.number().int().min(1).max(50).optional().describe('results wanted (default 5)')
    },
    annotations: { readOnlyHint: true }
  }, async (query) => guarded(async () => {
    const reply = await client.patterns.query(query)
    return reply.matches.map((match) => ({
      name: match.pattern.name, namespace: match.pattern.namespace, content: match.pattern.content,
      confidence: match.pattern.confidence, score: match.score, similarity: match.similarity
    }))
  }))

  server.registerTool('patterns_store', {
    title: 'Store a learned pattern',
    description: 'Store a reusable lesson (a pattern) in the ReasoningBank, replicated to every node and searchable by meaning.',
    inputSchema: {
      name: z.string().min(1).max(256).describe('unique pattern name'),
      content: z.string().min(1).max(16_384).describe('the lesson itself'),
      namespace: z.string().min(1).max(64).describe("pattern namespace, e.g. 'security'"),
      confidence: z.number().min(0).max(1).optional().describe('initial confidence (default 0.5)')
    }
  }, async (pattern) => guarded(async () => client.patterns.store(pattern)))

  server.registerTool('patterns_record_outcome', {
    title: 'Record how a pattern worked',
    description: 'Tell the ReasoningBank whether applying the named patterns succeeded; their confidence moves accordingly.',
    inputSchema: {
      names: z.array(z.string().min(1)).min(1).max(32).describe('pattern names'),
      success: z.boolean().describe('true if applying them worked')
    }
  }, async ({ names, success }) => guarded(async () => client.patterns.recordOutcome(names, success)))

  server.registerTool('task_submit', {
    title: 'Ask a swarm to do something',
    description: "Submit a task to a swarm: its elected leader assigns it to a member's agent. Returns the task id at once; follow it with task_wait or task_show.",
    inputSchema: {
      swarm: z.string().min(1).max(64).describe('swarm name (see swarm_status)'),
      prompt: z.string().min(1).max(65_536).describe('what the agent should do'),
      role: z.string().min(1).max(64).optional().describe('agent role, e.g. reviewer, coder, planner'),
      stages: z.array(z.string().min(1).max(64)).min(2).max(8).optional().describe('roles run one after another, each fed the previous output (instead of role)'),
      approve: z.boolean().optional().describe('hold the task in input-required until someone approves it (task_decide)'),
      after: z.array(z.string().min(1).max(64)).max(32).optional().describe('ids of tasks that must be done first')
    }
  }, async (request) => guarded(async () => taskBrief(await client.tasks.submit(request))))

  server.registerTool('task_show', {
    title: 'Show a task',
    description: 'A task now: state, assignee, attempts, progress, result or error, cost.',
    inputSchema: { id: taskId },
    annotations: { readOnlyHint: true }
  }, async ({ id }) => guarded(async () => taskBrief(await client.tasks.show(id))))

  server.registerTool('task_wait', {
    title: 'Wait for a task',
    description: 'Wait until a task finishes (done, failed or cancelled) and return its result.',
    inputSchema: {
      id: taskId,
      timeoutSeconds: z.number().int().min(1).max(MAX_WAIT_SECONDS).optional().describe(`give up after this long (default ${DEFAULT_WAIT_SECONDS})`)
    },
    annotations: { readOnlyHint: true }
  }, async ({ id, timeoutSeconds }, extra) => guarded(async () =>
    taskBrief(await client.tasks.wait(id, { timeoutMs: (timeoutSeconds ?? DEFAULT_WAIT_SECONDS) * 1000, signal: extra.signal }))))

  server.registerTool('task_cancel', {
    title: 'Cancel a task',
    description: 'Cancel a task; an agent running it is stopped.',
    inputSchema: { id: taskId },
    annotations: { destructiveHint: true }
  }, async ({ id }) => guarded(async () => taskBrief(await client.tasks.cancel(id))))

  server.registerTool('task_decide', {
    title: 'Approve or reject a task',
    description: 'Decide a task waiting in input-required (an approval gate): approve lets it run, reject fails it. Who decided and the note are recorded.',
    inputSchema: {
      id: taskId,
      decision: z.enum(['approve', 'reject']).describe('approve or reject'),
      note: z.string().max(2_000).optional().describe('why, recorded with the decision')
    }
  }, async ({ id, decision, note }) => guarded(async () => taskBrief(await client.tasks[decision](id, note ?? null))))

  server.registerTool('swarm_status', {
    title: 'Swarm status',
    description: 'A swarm: topology, term, elected leader, members with their roles and health. Without a name, every swarm this node knows.',
    inputSchema: { name: z.string().min(1).max(64).optional().describe('swarm name') },
    annotations: { readOnlyHint: true }
  }, async ({ name }) => guarded(async () => name === undefined ? client.swarms.list() : client.swarms.status(name)))

  server.registerTool('peers', {
    title: 'Connected peers',
    description: 'The peers this node is connected to: PeerId, transport, round-trip time, admission.',
    inputSchema: {},
    annotations: { readOnlyHint: true }
  }, async () => guarded(async () => (await client.peers.list()).peers))
}
