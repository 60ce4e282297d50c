/** What every protocol asks before serving a peer: has it passed the network's admission? */
export interface PeerGate {
  isAdmitted: (peerId: string) => boolean
  /** Resolves true once admitted; false when refused or when `timeoutMs` passes first. */
  whenAdmitted: (peerId: string, timeoutMs: number) => Promise<boolean>
}

/** How long a protocol waits for a peer's admission handshake before refusing it. */
export const ADMISSION_WAIT_MS = 6_000
