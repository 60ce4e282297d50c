import { RawResponse, type Route } from '../route.ts'

export const metricsRoute: Route = {
  method: 'GET',
  path: '/metrics',
  handle: async ({ node }) => new RawResponse(node.metrics.contentType, await node.metrics.metrics())
}
