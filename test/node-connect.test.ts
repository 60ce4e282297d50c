import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { PeerflowError } from '../crdt/index.ts'
import { isConnected, quicAddr, tcpAddr, TestNetwork, waitFor } from './helpers/nodes.ts'

const net = new TestNetwork()
afterEach(async () => { await net.cleanup() })

const never = new AbortController().signal

describe('connecting nodes', () => {
  it('connects two and three nodes over QUIC, and ping works', async () => {
    const [a, b, c] = await Promise.all([net.start(), net.start(), net.start()])
    const viaB = await b.join(multiaddr(quicAddr(a)), never)
    const viaC = await c.join(multiaddr(quicAddr(a)), never)
    expect(viaB.transport).toBe('quic')
    expect(viaC.transport).toBe('quic')
    await waitFor('A sees both inbound connections', () => a.peers().length === 2)
    expect(a.peers().map((p) => p.peerId).sort()).toEqual([b.peerId, c.peerId].sort())
    for (const peer of a.peers()) expect(peer.transport).toBe('quic')
    const rtt = await b.host.services.ping.ping(a.host.peerId)
    expect(rtt).toBeGreaterThanOrEqual(0)
    expect(rtt).toBeLessThan(1000)
  })

  it('falls back to TCP when one side has QUIC disabled', async () => {
    const a = await net.start({ quic: false })
    const b = await net.start()
    expect(a.addresses().some((addr) => addr.includes('quic'))).toBe(false)
    const info = await b.join(multiaddr(tcpAddr(a)), never)
    expect(info.transport).toBe('tcp')
    expect(b.peers()[0]?.transport).toBe('tcp')
  })

  it('B and C joined through A find each other, and stay connected when A stops', async () => {
    const a = await net.start()
    const b = await net.start()
    const c = await net.start()
    await b.join(multiaddr(quicAddr(a)), never)
    await c.join(multiaddr(quicAddr(a)), never)
    await waitFor('B and C connected by peer exchange', () => isConnected(b, c) && isConnected(c, b))
    await a.stop()
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(isConnected(b, c)).toBe(true)
    expect(isConnected(b, a)).toBe(false)
  })

  it('keeps its PeerId across a restart and redials a bootstrap peer after it restarts', async () => {
    const bootDir = await net.dataDir()
    const boot = await net.start({}, bootDir)
    const bootPeerId = boot.peerId
    const bootQuic = quicAddr(boot)
    const client = await net.start({ bootstrap: [bootQuic] })
    await waitFor('bootstrap peer dialled on start', () => isConnected(client, boot))

    await boot.stop()
    await waitFor('client noticed the bootstrap peer left', () => !client.host.getPeers().some((p) => p.toString() === bootPeerId))
    // Same data dir and the same port: the same node coming back.
    const port = /udp\/(\d+)/.exec(bootQuic)?.[1]
    const restarted = await net.start({ listen: [`/ip4/127.0.0.1/udp/${port}/quic-v1`] }, bootDir)
    expect(restarted.peerId).toBe(bootPeerId)
    await waitFor('client redialled the restarted bootstrap peer', () => isConnected(client, restarted), 15_000)
  })

  it('refuses to join itself and reports an unreachable peer within the dial timeout', async () => {
    const a = await net.start({ dialTimeoutMs: 1_000 })
    await expect(a.join(multiaddr(quicAddr(a)), never)).rejects.toThrow(/this node itself/)
    const ghost = await net.start()
    const ghostAddr = quicAddr(ghost)
    await ghost.stop()
    const started = Date.now()
    const error = await a.join(multiaddr(ghostAddr), never).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(PeerflowError)
    expect(['unreachable', 'timeout']).toContain((error as PeerflowError).kind)
    expect((error as PeerflowError).message).toMatch(/unreachable|cannot connect/)
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('leaves nothing listening after stop', async () => {
    const a = await net.start()
    const quicPort = Number(/udp\/(\d+)/.exec(quicAddr(a))?.[1])
    const tcpPort = Number(/tcp\/(\d+)/.exec(tcpAddr(a))?.[1])
    const apiPort = Number(a.apiAddress.split(':')[1])
    await a.stop()
    await bindUdp(quicPort)
    await bindTcp(tcpPort)
    await bindTcp(apiPort)
  })
})

async function bindUdp (port: number): Promise<void> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(port, '127.0.0.1', resolve) })
  await new Promise<void>((resolve) => socket.close(() => resolve()))
}

async function bindTcp (port: number): Promise<void> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve) })
  await new Promise<void>((resolve) => server.close(() => resolve()))
}
