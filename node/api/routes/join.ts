import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { HttpError, requireString, type Route } from '../route.ts'

export const joinRoute: Route = {
  method: 'POST',
  path: '/join',
  handle: async ({ node, body, signal }) => {
    const text = requireString(body, 'multiaddr')
    let addr: Multiaddr
    try {
      addr = multiaddr(text)
    } catch (err) {
      throw new HttpError(400, `malformed multiaddr '${text}': ${(err as Error).message}`)
    }
    return node.join(addr, signal)
  }
}
