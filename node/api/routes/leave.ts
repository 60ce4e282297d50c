import { requireString, type Route } from '../route.ts'

export const leaveRoute: Route = {
  method: 'POST',
  path: '/leave',
  handle: async ({ node, body }) => node.leave(requireString(body, 'peerId'))
}
