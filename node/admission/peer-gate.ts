/** What every protocol asks before serving a peer: has it passed the network's admission? */
export interface PeerGate {
  isAdmitted: (peerId: string) => boolean
  /** Resolves true once admitted; false when refused or when `timeoutMs` passes first. */
  whenAdmitted: (peerId: string, timeoutMs: number) => Promise<boolean>
  /**
   * Whether writes authored by this peer may be taken when an admitted peer relays them. The author
   * need not be connected to us: in a larger network most are not.
   */
  mayAuthor: (peerId: string) => boolean
}

/** How long a protocol waits for a peer's admission handshake before refusing it. */
export const ADMISSION_WAIT_MS = 6_000
