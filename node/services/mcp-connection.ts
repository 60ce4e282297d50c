import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { Tool } from '@modelcontextprotocol/sdk/types.js'
import type { ToolContext } from '../../src/agents/index.ts'
import type { McpServerConfig } from '../config/config.ts'
import type { Logger } from '../core/logger.ts'
import { VERSION } from '../core/version.ts'
import { resultText } from './mcp-result-text.ts'

/**
 * One configured MCP server, kept connected: a stdio server is a child process of the node,
 * restarted with exponential backoff whenever it exits; a Streamable HTTP server is reconnected
 * the same way when it stops answering. Its tool list is read on connect and again whenever the
 * server says it changed. While the server is down its tools stay listed and fail at once with
 * the reason, so an agent learns what happened instead of waiting.
 */

export type McpServerState = 'starting' | 'up' | 'down' | 'stopped'

export interface McpServerStatus {
  name: string
  transport: 'stdio' | 'http'
  /** The command line or the URL. */
  target: string
  state: McpServerState
  /** Why it is down (or why it last went down). */
  error: string | null
  restarts: number
  /** When `state` last changed. */
  since: number
  tools: Tool[]
}

export const FIRST_RETRY_MS = 500
const MAX_RETRY_MS = 30_000
/** A connection that lived this long was healthy: the next failure starts the backoff afresh. */
const HEALTHY_AFTER_MS = 60_000
const CONNECT_TIMEOUT_MS = 30_000
const LIST_TIMEOUT_MS = 15_000
const MAX_LISTED_TOOLS = 512
const STDERR_LINES_KEPT = 5
/** What one call may hand the model; the runtime cuts again at its own, smaller cap. */
export const MAX_MCP_RESULT_CHARS = 100_000

/** The parts of the MCP SDK a connection uses. */
interface McpSdk {
  Client: typeof import('@modelcontextprotocol/sdk/client/index.js').Client
  StdioClientTransport: typeof import('@modelcontextprotocol/sdk/client/stdio.js').StdioClientTransport
  StreamableHTTPClientTransport: typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js').StreamableHTTPClientTransport
  types: typeof import('@modelcontextprotocol/sdk/types.js')
}

let sdkLoading: Promise<McpSdk> | undefined

/** Loaded with the first server connected: a node without MCP servers never holds the SDK (several MB of heap). */
async function loadSdk (): Promise<McpSdk> {
  sdkLoading ??= Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/stdio.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js')
  ]).then(([client, stdio, http, types]) => ({
    Client: client.Client, StdioClientTransport: stdio.StdioClientTransport, StreamableHTTPClientTransport: http.StreamableHTTPClientTransport, types
  }))
  return sdkLoading
}

export class McpConnection {
  readonly name: string
  readonly #config: McpServerConfig
  readonly #log: Logger
  #client: Client | undefined
  /** Bumped on every (re)connect: events from a connection already given up are ignored. */
  #generation = 0
  #state: McpServerState = 'starting'
  #since = Date.now()
  #error: string | null = null
  #tools: Tool[] = []
  #restarts = 0
  readonly #firstRetryMs: number
  #retryMs: number
  #retryAt = 0
  #retryTimer: NodeJS.Timeout | undefined
  #connectedAt = 0
  #stderr: string[] = []
  readonly #onToolsChanged: () => void

  constructor (name: string, config: McpServerConfig, log: Logger, onToolsChanged: () => void = () => {}, firstRetryMs = FIRST_RETRY_MS) {
    this.name = name
    this.#firstRetryMs = firstRetryMs
    this.#retryMs = firstRetryMs
    this.#config = config
    this.#log = log.child({ mcpServer: name })
    this.#onToolsChanged = onToolsChanged
  }

  get transport (): 'stdio' | 'http' {
    return this.#config.command === undefined ? 'http' : 'stdio'
  }

  get target (): string {
    return this.#config.command === undefined ? this.#config.url ?? '' : [this.#config.command, ...this.#config.args].join(' ')
  }

  status (): McpServerStatus {
    return {
      name: this.name, transport: this.transport, target: this.target, state: this.#state, error: this.#error,
      restarts: this.#restarts, since: this.#since, tools: [...this.#tools]
    }
  }

  /** Connects in the background; resolves once the first attempt has succeeded or failed. */
  async start (): Promise<void> {
    await this.#connect()
  }

  async stop (): Promise<void> {
    this.#setState('stopped', null)
    this.#generation++
    clearTimeout(this.#retryTimer)
    const client = this.#client
    this.#client = undefined
    await client?.close().catch(() => {})
  }

  /** Calls one of the server's tools; rejects with a message meant for the model (and the task's log). */
  async call (tool: string, args: Record<string, unknown>, ctx: ToolContext): Promise<string> {
    const client = this.#client
    if (this.#state !== 'up' || client === undefined) throw new Error(this.#unavailable(tool))
    // Loaded already: the client exists.
    const { CallToolResultSchema, ErrorCode, McpError } = (await loadSdk()).types
    let result
    try {
      result = await client.callTool({ name: tool, arguments: args }, CallToolResultSchema, { timeout: this.#config.timeoutMs, signal: ctx.signal })
    } catch (err) {
      if (ctx.signal.aborted) throw err
      if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
        throw new Error(`MCP tool '${tool}' of server '${this.name}' did not answer within ${this.#config.timeoutMs} ms`)
      }
      if (err instanceof McpError && err.code === ErrorCode.ConnectionClosed) {
        throw new Error(`MCP server '${this.name}' went down during the call to '${tool}' (${this.#error ?? 'connection closed'}); it is being restarted`)
      }
      if (!(err instanceof McpError) && this.transport === 'http') this.#lost(`unreachable: ${(err as Error).message}`)
      throw new Error(`MCP server '${this.name}' could not run '${tool}': ${(err as Error).message}`)
    }
    // Servers on the 2024-10-07 protocol answer with `toolResult` instead of content blocks.
    const blocks = CallToolResultSchema.safeParse(result)
    const text = blocks.success ? resultText(blocks.data, MAX_MCP_RESULT_CHARS) : JSON.stringify(result.toolResult ?? null).slice(0, MAX_MCP_RESULT_CHARS)
    if (blocks.success && blocks.data.isError === true) throw new Error(text === '' ? `MCP tool '${tool}' of server '${this.name}' reported an error` : text)
    return text
  }

  #unavailable (tool: string): string {
    const why = this.#error ?? (this.#state === 'starting' ? 'still starting' : this.#state)
    const retry = this.#state === 'down' ? `; next restart in ${Math.max(0, Math.round((this.#retryAt - Date.now()) / 1000))} s` : ''
    return `MCP server '${this.name}' is ${this.#state === 'up' ? 'not connected' : this.#state} (${why}), so '${tool}' cannot run now${retry}`
  }

  #setState (state: McpServerState, error: string | null): void {
    if (state !== this.#state) this.#since = Date.now()
    this.#state = state
    this.#error = error
  }

  #transportFor ({ StdioClientTransport, StreamableHTTPClientTransport }: McpSdk): Transport {
    if (this.#config.command === undefined) {
      return new StreamableHTTPClientTransport(new URL(this.#config.url ?? ''), { requestInit: { headers: this.#config.headers } })
    }
    // The SDK passes only a safe subset of the node's environment (PATH, HOME, ...) plus `env`: no secrets.
    const transport = new StdioClientTransport({
      command: this.#config.command, args: this.#config.args, env: this.#config.env, cwd: this.#config.cwd, stderr: 'pipe'
    })
    transport.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').map((part) => part.trim()).filter(Boolean)) {
        this.#stderr.push(line.slice(0, 300))
        this.#log.debug({ line }, 'MCP server stderr')
      }
      this.#stderr.splice(0, Math.max(0, this.#stderr.length - STDERR_LINES_KEPT))
    })
    return transport
  }

  async #connect (): Promise<void> {
    const generation = ++this.#generation
    this.#setState('starting', this.#error)
    this.#stderr = []
    const sdk = await loadSdk()
    const client = new sdk.Client({ name: 'peerflow', version: VERSION }, {
      listChanged: { tools: { autoRefresh: false, debounceMs: 100, onChanged: () => { void this.#refresh(client, generation) } } }
    })
    client.onclose = () => { if (generation === this.#generation) this.#lost(this.transport === 'stdio' ? 'the server process exited' : 'the connection closed') }
    client.onerror = (err) => { this.#log.debug({ err: err.message }, 'MCP transport error') }
    try {
      await client.connect(this.#transportFor(sdk), { timeout: CONNECT_TIMEOUT_MS })
      if (generation !== this.#generation) throw new Error('superseded')
      this.#client = client
      this.#tools = await listAllTools(client)
      if (generation !== this.#generation) return
      this.#connectedAt = Date.now()
      this.#setState('up', null)
      this.#log.info({ tools: this.#tools.length, target: this.target }, 'MCP server connected')
      this.#onToolsChanged()
    } catch (err) {
      if (generation !== this.#generation) { await client.close().catch(() => {}); return }
      this.#lost(`could not start: ${(err as Error).message}`)
    }
  }

  async #refresh (client: Client, generation: number): Promise<void> {
    try {
      const tools = await listAllTools(client)
      if (generation !== this.#generation) return
      this.#tools = tools
      this.#log.info({ tools: tools.length }, 'MCP server tool list changed')
      this.#onToolsChanged()
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'could not reread the MCP server tool list')
    }
  }

  /** The connection is gone: close what is left of it and try again after the backoff. */
  #lost (reason: string): void {
    if (this.#state === 'stopped') return
    this.#generation++
    const client = this.#client
    this.#client = undefined
    void client?.close().catch(() => {})
    if (this.#connectedAt !== 0 && Date.now() - this.#connectedAt >= HEALTHY_AFTER_MS) this.#retryMs = this.#firstRetryMs
    this.#connectedAt = 0
    const stderr = this.#stderr.length === 0 ? '' : ` (stderr: ${this.#stderr.slice(-2).join(' | ')})`
    this.#setState('down', `${reason}${stderr}`)
    const delay = this.#retryMs
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS)
    this.#retryAt = Date.now() + delay
    this.#log.warn({ reason: this.#error, retryInMs: delay }, 'MCP server down; restarting it after a pause')
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => {
      this.#restarts++
      void this.#connect()
    }, delay)
    this.#retryTimer.unref()
  }
}

async function listAllTools (client: Client): Promise<Tool[]> {
  const tools: Tool[] = []
  let cursor: string | undefined
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: LIST_TIMEOUT_MS })
    tools.push(...page.tools)
    cursor = page.nextCursor
  } while (cursor !== undefined && tools.length < MAX_LISTED_TOOLS)
  return tools.slice(0, MAX_LISTED_TOOLS)
}
