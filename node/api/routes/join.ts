import { PeerflowError } from '../../../crdt/index.ts'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { requireString, type Route } from '../route.ts'
import type { JoinReply } from '../types.ts'

export const joinRoute: Route = {
  method: 'POST',
  path: '/join',
  handle: async ({ node, body, signal }): Promise<JoinReply> => {
    const text = requireString(body, 'multiaddr')
    let addr: Multiaddr
    try {
      addr = multiaddr(text)
    } catch (err) {
      throw new PeerflowError('invalid', `malformed multiaddr '${text}': ${(err as Error).message}`)
    }
    return node.join(addr, signal)
  }
}
