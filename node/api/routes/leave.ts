import { requireString, type Route } from '../route.ts'
import type { LeaveReply } from '../types.ts'

export const leaveRoute: Route = {
  method: 'POST',
  path: '/leave',
  handle: async ({ node, body }): Promise<LeaveReply> => node.leave(requireString(body, 'peerId'))
}
