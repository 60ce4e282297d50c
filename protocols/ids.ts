/** Every peerflow wire protocol id, in one place: `/<app>/<name>/<semver>`. */
export const PROTOCOL_PREFIX = '/peerflow'
export const PEER_EXCHANGE_PROTOCOL = `${PROTOCOL_PREFIX}/pex/1.0.0`
