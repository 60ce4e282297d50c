import type { Multiaddr } from '@multiformats/multiaddr'
import { autoNAT, type AutoNATComponents } from '@libp2p/autonat'

/**
 * AutoNAT whose dial-backs open a fresh connection. js-libp2p's AutoNAT v1 server dials the address
 * it is asked to check with `openConnection`, which hands back the connection the request arrived
 * on (same peer), and then closes that connection when done: the asking peer loses its only link
 * (here: a home node dropping its relay, and the admission handshake running on it failing), and
 * nothing was tested. Forcing a new connection makes the dial-back a real reachability test and
 * leaves the existing connection alone.
 */
export function autoNATWithFreshDialBacks (): (components: AutoNATComponents) => unknown {
  const create = autoNAT()
  return (components) => {
    const real = components.connectionManager
    const connectionManager = new Proxy(real, {
      get (target, property, receiver) {
        if (property === 'openConnection') {
          return async (peer: Parameters<typeof real.openConnection>[0], options: Parameters<typeof real.openConnection>[1] = {}) => {
            // A single multiaddr is a dial-back; arrays of a random peer's addresses keep the default.
            const dialBack = !Array.isArray(peer) && typeof (peer as Multiaddr).getComponents === 'function'
            return target.openConnection(peer, dialBack ? { ...options, force: true } : options)
          }
        }
        const value: unknown = Reflect.get(target, property, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
    const view = new Proxy(components, {
      get (target, property, receiver) {
        return property === 'connectionManager' ? connectionManager : Reflect.get(target, property, receiver)
      }
    })
    return create(view)
  }
}
