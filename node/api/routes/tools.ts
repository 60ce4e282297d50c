import type { Route } from '../route.ts'

/** Every tool this node's agents may use, by server, with its schema and the roles allowed to call it. */
export const toolListRoute: Route = {
  method: 'GET',
  path: '/tools',
  handle: ({ node }) => node.toolbox.catalog()
}
