import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { Admission, PeerBackoff, type PeerBackoffOptions } from '../../node/admission/admission.ts'
import { createHost, type Host } from '../../node/net/host.ts'
import type { Logger } from '../../node/core/logger.ts'
import { testConfig } from './nodes.ts'

export interface AdmittingHost {
  host: Host
  admission: Admission
  peerId: string
}

export interface AdmittingHostOptions {
  secret?: Uint8Array
  allowlist?: Set<string>
  handshakeTimeoutMs?: number
  backoff?: PeerBackoffOptions
  log?: Logger
}

export const newSecret = (): Uint8Array => new Uint8Array(randomBytes(32))

export function quicAddr (host: Host): Multiaddr {
  const addr = host.getMultiaddrs().find((a) => a.toString().includes('/quic-v1/'))
  if (addr === undefined) throw new Error('host has no QUIC address')
  return multiaddr(addr.toString())
}

/** Bare libp2p hosts (as createHost builds them), with or without an Admission, on loopback. */
export class TestHosts {
  readonly #hosts: Host[] = []
  readonly #admissions: Admission[] = []

  /** A host with no peerflow protocols at all: it connects, and never authenticates. */
  async plain (): Promise<Host> {
    // createHost writes nothing to the data dir.
    const host = await createHost({ config: testConfig(tmpdir()), privateKey: await generateKeyPair('Ed25519') })
    this.#hosts.push(host)
    return host
  }

  async admitting (options: AdmittingHostOptions = {}): Promise<AdmittingHost> {
    const backoff = new PeerBackoff(options.backoff)
    const host = await createHost({
      config: testConfig(tmpdir()),
      privateKey: await generateKeyPair('Ed25519'),
      connectionGater: backoff.gater()
    })
    this.#hosts.push(host)
    const admission = new Admission({
      host,
      secret: options.secret,
      allowlist: options.allowlist === undefined ? undefined : () => options.allowlist,
      log: options.log ?? pino({ level: process.env.PEERFLOW_TEST_LOG ?? 'silent' }),
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      backoff
    })
    await admission.start()
    this.#admissions.push(admission)
    return { host, admission, peerId: host.peerId.toString() }
  }

  async cleanup (): Promise<void> {
    await Promise.all(this.#admissions.map(async (admission) => { await admission.stop() }))
    await Promise.all(this.#hosts.map(async (host) => { await host.stop() }))
    this.#admissions.length = 0
    this.#hosts.length = 0
  }
}
