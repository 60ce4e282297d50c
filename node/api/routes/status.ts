import type { Route } from '../route.ts'

export const statusRoute: Route = {
  method: 'GET',
  path: '/status',
  handle: ({ node }) => node.status()
}
