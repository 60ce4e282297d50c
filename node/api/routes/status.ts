import type { Route } from '../route.ts'
import type { StatusReply } from '../types.ts'

export const statusRoute: Route = {
  method: 'GET',
  path: '/status',
  handle: ({ node }): StatusReply => node.status()
}
