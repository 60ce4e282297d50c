import type { IncomingHttpHeaders } from 'node:http'
import { A2A_VERSION_HEADER, type Message, type SendMessageRequest, type StreamResponse, type Task } from '@a2a-js/sdk'
import { JsonRpcRequestMalformedError, UnsupportedOperationError } from '@a2a-js/sdk/errors'
import {
  DefaultRequestHandler, JsonRpcTransportHandler, ServerCallContext, validateVersion, type A2ARequestHandler
} from '@a2a-js/sdk/server'
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server'
import { A2A_LEGACY_PROTOCOL_VERSION } from '@a2a-js/sdk/compat/v0_3'
import { PeerflowError } from '../../../crdt/peerflow-error.ts'
import type { PeerflowNode } from '../../core/peerflow-node.ts'
import { buildAgentCard } from './agent-card.ts'
import { BoundedTaskStore } from './bounded-task-store.ts'
import { SwarmTaskExecutor } from './swarm-task-executor.ts'
import { swarmTargetOf } from './swarm-target.ts'
import { isStream } from './is-stream.ts'

const INVALID_PARAMS = -32602

/**
 * Refuses a message the swarm cannot take before any task exists, so the sender gets a JSON-RPC
 * error (invalid params) rather than a task that failed at once.
 */
class SwarmRequestHandler extends DefaultRequestHandler {
  readonly #node: PeerflowNode

  constructor (node: PeerflowNode) {
    const card = buildAgentCard(node)
    super(card, new BoundedTaskStore(), new SwarmTaskExecutor(node))
    this.#node = node
  }

  // The card's skills follow the swarms, which change while the node runs.
  override async getAgentCard (): ReturnType<DefaultRequestHandler['getAgentCard']> {
    return buildAgentCard(this.#node)
  }

  override async sendMessage (params: SendMessageRequest, context: ServerCallContext): Promise<Message | Task> {
    this.#check(params)
    return super.sendMessage(params, context)
  }

  override async * sendMessageStream (params: SendMessageRequest, context: ServerCallContext): AsyncGenerator<StreamResponse, void, undefined> {
    this.#check(params)
    yield * super.sendMessageStream(params, context)
  }

  #check (params: SendMessageRequest): void {
    if (params.message?.taskId !== undefined && params.message.taskId !== '') {
      throw new UnsupportedOperationError('a peerflow task takes no follow-up messages: send a new message for new work')
    }
    try {
      swarmTargetOf(this.#node, params)
    } catch (err) {
      if (err instanceof PeerflowError) throw new JsonRpcRequestMalformedError({ message: err.message, envelopeCode: INVALID_PARAMS })
      throw err
    }
  }
}

/** A node's A2A endpoint: JSON-RPC per A2A 1.0, and per 0.3 when a request names no newer version. */
export class A2aService {
  readonly #handler: A2ARequestHandler
  readonly #current: JsonRpcTransportHandler
  readonly #legacy: LegacyJsonRpcTransportHandler

  constructor (node: PeerflowNode) {
    this.#handler = new SwarmRequestHandler(node)
    this.#current = new JsonRpcTransportHandler(this.#handler)
    this.#legacy = new LegacyJsonRpcTransportHandler(this.#handler)
  }

  /** One JSON-RPC response, or for message/stream a stream of them (see isStream). */
  async handle (body: unknown, headers: IncomingHttpHeaders): Promise<unknown> {
    const header = headers[A2A_VERSION_HEADER.toLowerCase()]
    const requested = (Array.isArray(header) ? header[0] : header) ?? A2A_LEGACY_PROTOCOL_VERSION
    const legacy = requested === A2A_LEGACY_PROTOCOL_VERSION
    const request = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
    const id = (request.id as string | number | null | undefined) ?? null
    const context = new ServerCallContext({ requestedVersion: requested })
    try {
      validateVersion(requested, await this.#handler.getAgentCard(), 'JSONRPC')
    } catch (err) {
      return { jsonrpc: '2.0', id, error: JsonRpcTransportHandler.mapToJSONRPCError(err) }
    }
    const reply = legacy ? await this.#legacy.handle(request, context) : await this.#current.handle(request, context)
    if (!isStream(reply)) return reply
    // A request refused before its first event is answered as plain JSON-RPC, like any other error.
    try {
      const first = await reply.next()
      return (async function * () {
        if (first.done !== true) yield first.value
        yield * reply
      })()
    } catch (err) {
      const error = legacy ? LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(err) : JsonRpcTransportHandler.mapToJSONRPCError(err)
      return { jsonrpc: '2.0', id, error }
    }
  }
}
