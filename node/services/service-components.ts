import type { Startable } from '@libp2p/interface'
import type { PeerGate } from '../admission/peer-gate.ts'
import type { Logger } from '../core/logger.ts'
import type { Host } from '../net/host.ts'

/**
 * What the node hands every protocol service, in the js-libp2p style `(components, init)`:
 * the parts of the host a service may use, admission, and a logger the service names itself in.
 * Each service narrows `host` to the calls it makes (see the `*Host` types beside each service).
 */
export interface ServiceComponents {
  host: Host
  gate: PeerGate
  logger: Logger
}

/** A protocol service: started in the node's order, stopped in reverse. */
export interface NodeService extends Startable {
  isStarted (): boolean
}

/** The host calls a request/response protocol service makes. */
export type ProtocolHost = Pick<Host, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers' | 'getConnections' | 'addEventListener' | 'removeEventListener'>
