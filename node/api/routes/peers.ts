import type { Route } from '../route.ts'
import type { PeersReply } from '../types.ts'

export const peersRoute: Route = {
  method: 'GET',
  path: '/peers',
  handle: ({ node }): PeersReply => ({ peers: node.peers(), refused: node.admission.refused(), admission: node.admission.mode })
}
