import { PeerflowError } from '../../../crdt/index.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { MEMBERSHIP_NAMESPACE } from '../../stores/replicated-allowlist.ts'
import { requireString, type Route } from '../route.ts'
import type { AllowListReply, AllowReply, DisallowReply } from '../types.ts'

function validPeerId (text: string): string {
  try {
    return peerIdFromString(text).toString()
  } catch {
    throw new PeerflowError('invalid', `not a PeerId: '${text}'`)
  }
}

/** Adds a PeerId to the replicated allowlist; once the list has an entry, only listed peers are admitted. */
export const allowRoute: Route = {
  method: 'POST',
  path: '/allow',
  handle: async ({ node, body }): Promise<AllowReply> => {
    const peerId = validPeerId(requireString(body, 'peerId'))
    await node.memory.put(MEMBERSHIP_NAMESPACE, peerId, { allowedBy: node.peerId }, { author: node.peerId })
    return { peerId, allowed: true, allowlist: node.memory.list(MEMBERSHIP_NAMESPACE).map((entry) => entry.key) }
  }
}

export const disallowRoute: Route = {
  method: 'DELETE',
  path: '/allow/:peerId',
  handle: async ({ node, params }): Promise<DisallowReply> => {
    const peerId = validPeerId(params.peerId as string)
    return { peerId, removed: await node.memory.delete(MEMBERSHIP_NAMESPACE, peerId) }
  }
}

export const allowListRoute: Route = {
  method: 'GET',
  path: '/allow',
  handle: ({ node }): AllowListReply => ({ allowlist: node.memory.list(MEMBERSHIP_NAMESPACE).map((entry) => entry.key) })
}
