import type { PeerflowNode } from '../../core/peerflow-node.ts'
import { A2A_PATH, AGENT_CARD_PATH, buildAgentCard } from '../a2a/agent-card.ts'
import type { A2aService } from '../a2a/a2a-service.ts'
import { isStream } from '../a2a/is-stream.ts'
import { StreamingResponse, type Route } from '../route.ts'

const INTERNAL_ERROR = -32603
const services = new WeakMap<PeerflowNode, Promise<A2aService>>()

/**
 * The node's A2A service, with the A2A SDK imported at the first request: a node that is never
 * called over A2A does not hold the SDK (megabytes of heap).
 */
async function serviceOf (node: PeerflowNode): Promise<A2aService> {
  let service = services.get(node)
  if (service === undefined) {
    service = import('../a2a/a2a-service.ts').then(({ A2aService }) => new A2aService(node))
    services.set(node, service)
  }
  return service
}

/** The node's A2A agent card: its swarms and roles as skills, and where to send messages. */
export const agentCardRoute: Route = {
  method: 'GET',
  path: AGENT_CARD_PATH,
  handle: ({ node, headers }) => buildAgentCard(node, headers.host)
}

/** A2A JSON-RPC: message/send becomes a swarm task; tasks/get, tasks/cancel; message/stream as server-sent events. */
export const a2aRoute: Route = {
  method: 'POST',
  path: A2A_PATH,
  handle: async ({ node, body, headers }) => {
    const reply = await (await serviceOf(node)).handle(body, headers)
    if (!isStream(reply)) return reply
    const { formatSSEErrorEvent, formatSSEEvent } = await import('@a2a-js/sdk')
    return new StreamingResponse('text/event-stream', (write, signal, end) => {
      void (async () => {
        try {
          for await (const event of reply) {
            if (signal.aborted) break
            write(formatSSEEvent(event))
          }
        } catch (err) {
          write(formatSSEErrorEvent({ jsonrpc: '2.0', id: null, error: { code: INTERNAL_ERROR, message: (err as Error).message } }))
        } finally {
          await reply.return(undefined)
          end()
        }
      })()
    })
  }
}
