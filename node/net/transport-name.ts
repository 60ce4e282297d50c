import type { Multiaddr } from '@multiformats/multiaddr'

export type TransportName = 'quic' | 'tcp' | 'relay' | 'other'

/** Which transport a connection's address runs over, as shown to users. */
export function transportOf (addr: Multiaddr): TransportName {
  const names = addr.getComponents().map((component) => component.name)
  if (names.includes('p2p-circuit')) return 'relay'
  if (names.includes('quic-v1') || names.includes('quic')) return 'quic'
  if (names.includes('tcp')) return 'tcp'
  return 'other'
}
