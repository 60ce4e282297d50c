import { requireString, type Route } from '../route.ts'

export const blockRoute: Route = {
  method: 'POST',
  path: '/block',
  handle: async ({ node, body }) => node.block(requireString(body, 'peerId'))
}

export const unblockRoute: Route = {
  method: 'POST',
  path: '/unblock',
  handle: ({ node, body }) => node.unblock(requireString(body, 'peerId'))
}

export const blockListRoute: Route = {
  method: 'GET',
  path: '/block',
  handle: ({ node }) => ({ blocked: node.blocklist.list() })
}
