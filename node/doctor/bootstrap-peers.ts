import { noise } from '@chainsafe/libp2p-noise'
import { quic } from '@chainsafe/libp2p-quic'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { NodeConfig } from '../config/config.ts'
import { failed, passed, type CheckResult, type RunningNode } from './check.ts'

interface Reach { addr: string, ok: boolean, how: string }

function peerIdIn (addr: string): string {
  return addr.slice(addr.lastIndexOf('/p2p/') + 5)
}

/** Through the running node: already connected, or a join (which the node would make anyway). */
async function reachThroughNode (node: RunningNode, addrs: string[], timeoutMs: number): Promise<Reach[]> {
  const { peers } = await node.request<{ peers: Array<{ peerId: string, transport: string, rttMs: number | null }> }>('GET', '/peers')
  return Promise.all(addrs.map(async (addr): Promise<Reach> => {
    const connected = peers.find((peer) => peer.peerId === peerIdIn(addr))
    if (connected !== undefined) return { addr, ok: true, how: `connected over ${connected.transport}${connected.rttMs === null ? '' : `, ${connected.rttMs} ms`}` }
    try {
      const joined = await node.request<{ transport: string }>('POST', '/join', { multiaddr: addr }, timeoutMs)
      return { addr, ok: true, how: `joined over ${joined.transport}` }
    } catch (err) {
      return { addr, ok: false, how: (err as Error).message }
    }
  }))
}

/** With no node running: a throwaway libp2p host (fresh identity, no listeners) dials each address. */
async function reachDirectly (config: NodeConfig, addrs: string[], timeoutMs: number): Promise<Reach[]> {
  const host = await createLibp2p({
    addresses: { listen: [] },
    transports: [...(config.quic ? [quic()] : []), ...(config.tcp ? [tcp()] : [])],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Bootstrap peers often sit on private addresses, which libp2p's default gater refuses to dial.
    connectionGater: { denyDialMultiaddr: async () => false }
  })
  try {
    return await Promise.all(addrs.map(async (addr): Promise<Reach> => {
      const started = performance.now()
      try {
        const connection = await host.dial(multiaddr(addr), { signal: AbortSignal.timeout(timeoutMs) })
        const took = Math.round(performance.now() - started)
        await connection.close()
        return { addr, ok: true, how: `dialled in ${took} ms` }
      } catch (err) {
        return { addr, ok: false, how: (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message }
      }
    }))
  } finally {
    await host.stop()
  }
}

/** At least one bootstrap peer answers; each one that does not is named. */
export async function checkBootstrapPeers (config: NodeConfig, running: RunningNode | undefined, timeoutMs: number): Promise<CheckResult> {
  const name = 'bootstrap peers'
  if (config.bootstrap.length === 0) {
    return passed(name, 'none configured: this node starts a network, or joins one with `peerflow join <multiaddr>`')
  }
  const reached = running === undefined
    ? await reachDirectly(config, config.bootstrap, timeoutMs)
    : await reachThroughNode(running, config.bootstrap, timeoutMs)
  const unreachable = reached.filter((reach) => !reach.ok)
  const summary = reached.map((reach) => `${reach.addr}: ${reach.how}`).join('; ')
  if (unreachable.length === reached.length) {
    return failed(name, `none of ${reached.length} reachable: ${summary}`,
      'check the addresses (each ends in /p2p/<PeerId> of a running node), that UDP and TCP to them pass your firewall, or try --no-quic if UDP is blocked')
  }
  return passed(name, `${reached.length - unreachable.length} of ${reached.length} reachable: ${summary}`)
}
