import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { ProtocolError } from './framing.ts'

/**
 * Authenticated encryption of gossip payloads under a key derived from the network secret.
 * gossipsub may hand a message to a peer before its admission handshake finishes (or to one that
 * never finishes it); sealed payloads make those copies useless to it, and unforgeable.
 * Layout: 12-byte random nonce | AES-256-GCM ciphertext | 16-byte tag.
 */
const NONCE_BYTES = 12
const TAG_BYTES = 16

export interface Sealer {
  seal: (plaintext: Uint8Array) => Uint8Array
  open: (sealed: Uint8Array) => Uint8Array
}

export function sealerFor (networkSecret: Uint8Array, purpose: string): Sealer {
  const key = Buffer.from(hkdfSync('sha256', networkSecret, 'peerflow', `peerflow-seal-v1/${purpose}`, 32))
  return {
    seal: (plaintext) => {
      const nonce = randomBytes(NONCE_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, nonce)
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
      return Buffer.concat([nonce, body, cipher.getAuthTag()])
    },
    open: (sealed) => {
      if (sealed.byteLength < NONCE_BYTES + TAG_BYTES) throw new ProtocolError('sealed payload too short')
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES))
      decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_BYTES))
      try {
        return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.byteLength - TAG_BYTES)), decipher.final()])
      } catch {
        throw new ProtocolError('sealed payload does not authenticate under this network secret')
      }
    }
  }
}
