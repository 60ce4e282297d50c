import { streamOverview } from '../dashboard/live-feed.ts'
import { StreamingResponse, type Route } from '../route.ts'

/** Live overviews as server-sent events, for the dashboard. */
export const eventsRoute: Route = {
  method: 'GET',
  path: '/events',
  handle: ({ node }) => new StreamingResponse('text/event-stream; charset=utf-8', (write, signal) => { streamOverview(node, write, signal) })
}
