import type { Message, SendMessageRequest } from '@a2a-js/sdk'
import { PeerflowError } from '../../../crdt/peerflow-error.ts'
import type { PeerflowNode } from '../../core/peerflow-node.ts'

export interface SwarmTarget {
  swarm: string
  role: string | undefined
  prompt: string
}

function stringField (metadata: Record<string, unknown> | undefined, field: string): string | undefined {
  const value = metadata?.[field]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') throw new PeerflowError('invalid', `metadata.${field} must be a non-empty string`)
  return value
}

/** The message's text parts, in order: the task prompt. */
export function promptOf (message: Message): string {
  return message.parts.flatMap((part) => part.content?.$case === 'text' ? [part.content.value] : []).join('\n').trim()
}

/**
 * Which swarm (and role) a message is for: `skill` ("swarm" or "swarm/role") or `swarm` and `role`
 * in the message's or the request's metadata; a node that knows one swarm needs neither.
 */
export function swarmTargetOf (node: PeerflowNode, request: SendMessageRequest): SwarmTarget {
  const message = request.message
  if (message === undefined) throw new PeerflowError('invalid', 'the request has no message')
  const prompt = promptOf(message)
  if (prompt === '') throw new PeerflowError('invalid', 'the message has no text part: peerflow tasks are text prompts')
  const metadata = { ...request.metadata, ...message.metadata } as Record<string, unknown>
  const skill = stringField(metadata, 'skill')
  const [skillSwarm, skillRole] = skill === undefined ? [] : skill.split('/', 2)
  // Only a member holds a swarm's tasks (scoped replication), so only its swarms can take one here.
  const replicated = new Set(node.replication.scope.swarms())
  const defined = node.swarms.list().map((swarm) => swarm.name)
  const known = defined.filter((name) => replicated.has(name))
  let swarm = stringField(metadata, 'swarm') ?? skillSwarm
  if (swarm === undefined) {
    if (known.length !== 1) {
      throw new PeerflowError('invalid', known.length === 0
        ? 'this node knows no swarm to run the task: create one with `peerflow swarm init`'
        : `name the swarm in metadata {"skill": "<swarm>"}: one of ${known.join(', ')}`)
    }
    swarm = known[0] as string
  }
  if (!known.includes(swarm) && defined.includes(swarm)) {
    throw new PeerflowError('forbidden', `this node is not a member of swarm '${swarm}' and does not replicate its tasks: send the message to a member (this node's swarms: ${known.join(', ') || 'none'})`)
  }
  if (!known.includes(swarm)) throw new PeerflowError('invalid', `unknown swarm '${swarm}' (known: ${known.join(', ') || 'none'})`)
  return { swarm, role: stringField(metadata, 'role') ?? skillRole, prompt }
}
