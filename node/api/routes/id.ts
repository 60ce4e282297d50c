import type { Route } from '../route.ts'
import type { IdReply } from '../types.ts'

export const idRoute: Route = {
  method: 'GET',
  path: '/id',
  handle: ({ node }): IdReply => ({ peerId: node.peerId, addresses: node.addresses() })
}
