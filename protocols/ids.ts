/** Every peerflow wire protocol id, in one place: `/<app>/<name>/<semver>`. */
export const PROTOCOL_PREFIX = '/peerflow'
export const AUTH_PROTOCOL = `${PROTOCOL_PREFIX}/auth/1.0.0`
export const PEER_EXCHANGE_PROTOCOL = `${PROTOCOL_PREFIX}/pex/1.0.0`
export const SYNC_PROTOCOL = `${PROTOCOL_PREFIX}/sync/1.1.0`
export const RAFT_PROTOCOL = `${PROTOCOL_PREFIX}/raft/1.0.0`
export const SWARM_PROTOCOL = `${PROTOCOL_PREFIX}/swarm/1.0.0`
export const BLOB_PROTOCOL = `${PROTOCOL_PREFIX}/blob/1.0.0`
