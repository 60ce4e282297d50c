import type { Route } from '../route.ts'

export const idRoute: Route = {
  method: 'GET',
  path: '/id',
  handle: ({ node }) => ({ peerId: node.peerId, addresses: node.addresses() })
}
