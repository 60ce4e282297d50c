import type { Connection } from '@libp2p/interface'

/** How a connection reaches the peer: straight, or spliced through a relay (and whether that relay limits it). */
export interface ConnectionRoute {
  route: 'direct' | 'relayed'
  /** The relay's PeerId, for a relayed connection. */
  relay: string | null
  /** The relay caps this connection's bytes or lifetime: libp2p then runs only protocols that opt in. */
  limited: boolean
  limits: { bytes?: string, seconds?: number } | null
}

/** Route, relay and limits of one connection. */
export function routeOf (connection: Connection): ConnectionRoute {
  const components = connection.remoteAddr.getComponents()
  const circuitAt = components.findIndex((component) => component.name === 'p2p-circuit')
  const relay = circuitAt < 0 ? null : components.slice(0, circuitAt).findLast((component) => component.name === 'p2p')?.value ?? null
  const limits = connection.limits
  return {
    route: circuitAt < 0 ? 'direct' : 'relayed',
    relay,
    limited: limits !== undefined,
    limits: limits === undefined
      ? null
      : { ...(limits.bytes === undefined ? {} : { bytes: limits.bytes.toString() }), ...(limits.seconds === undefined ? {} : { seconds: limits.seconds }) }
  }
}
