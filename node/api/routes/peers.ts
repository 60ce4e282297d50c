import type { Route } from '../route.ts'

export const peersRoute: Route = {
  method: 'GET',
  path: '/peers',
  handle: ({ node }) => ({ peers: node.peers(), refused: node.admission.refused(), admission: node.admission.mode })
}
