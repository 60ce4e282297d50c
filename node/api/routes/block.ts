import { requireString, type Route } from '../route.ts'
import type { BlockListReply, BlockReply, UnblockReply } from '../types.ts'

export const blockRoute: Route = {
  method: 'POST',
  path: '/block',
  handle: async ({ node, body }): Promise<BlockReply> => node.block(requireString(body, 'peerId'))
}

export const unblockRoute: Route = {
  method: 'POST',
  path: '/unblock',
  handle: ({ node, body }): UnblockReply => node.unblock(requireString(body, 'peerId'))
}

export const blockListRoute: Route = {
  method: 'GET',
  path: '/block',
  handle: ({ node }): BlockListReply => ({ blocked: node.blocklist.list() })
}
