import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNetworkSecret } from '../node/admission/network-secret.ts'
import {
  api, cliIn, createNatTopology, netnsSupport, startNodeInNamespace, waitFor, type NatTopology, type NsNode
} from './helpers/netns.ts'

/**
 * Edge connectivity, end to end: real `peerflow start` processes in network namespaces.
 * A public relay, and two homes each behind its own masquerading router (docs/NAT.md):
 *
 * 1. both homes find they are private, reserve a slot on the relay and reach each other through it;
 *    the relay reports public. Memory replicates both ways, and the homes elect a swarm leader.
 * 2. the relay restarts: reservations come back and the homes reconnect and replicate again.
 * 3. the relay restarts limiting its circuits: the homes are still admitted over the limited
 *    circuit, `peers` and the log say it is limited, and memory flows through the relay.
 * 4. home B's router starts forwarding its port and B, restarted, announces it: B reaches A through
 *    the relay and the connection is then upgraded to a direct one, which carries replication
 *    while the relay is down. (Hole punching between two NATed nodes does not work in js-libp2p on
 *    Node: docs/NAT.md says why.)
 */

const support = await netnsSupport()
const PORT = 4433

interface PeerRow { peerId: string, route: 'direct' | 'relayed', relay: string | null, limited: boolean, admitted: boolean, transport: string }
interface SwarmReply { leader: string | null, members: Array<{ peerId: string }> }
interface StatusReply {
  reachability: 'public' | 'private' | 'unknown'
  nat: { directUpgrades: number, reservations: Array<{ relay: string, addrs: string[] }>, relayService: { enabled: boolean, reservations: Array<{ peerId: string }> } }
}

function listenArgs (): string[] {
  return ['--listen', `/ip6/::/tcp/${PORT}`, '--listen', `/ip6/::/udp/${PORT}/quic-v1`]
}

async function peerRow (node: NsNode, peerId: string): Promise<PeerRow | undefined> {
  const { peers } = await api<{ peers: PeerRow[] }>(node, 'GET', '/peers')
  return peers.find((peer) => peer.peerId === peerId && peer.admitted)
}

async function write (node: NsNode, key: string, value: string): Promise<void> {
  await api(node, 'POST', '/memory/nat', { key, value })
}

async function readValue (node: NsNode, key: string): Promise<unknown> {
  try {
    const { entry } = await api<{ entry: { value: unknown } }>(node, 'GET', `/memory/nat/${key}`)
    return entry.value
  } catch {
    return undefined
  }
}

/** On failure, the nodes' recent log lines go with the error: a namespace is gone once the run ends. */
async function withLogs<T> (nodes: NsNode[], pending: Promise<T>): Promise<T> {
  try {
    return await pending
  } catch (err) {
    const tails = nodes.map((node) => `--- ${node.ns} ${node.peerId}\n${node.output().split('\n').slice(-60).join('\n')}`)
    throw new Error(`${(err as Error).message}\n${tails.join('\n')}`)
  }
}

describe('NAT traversal between two homes through a public relay', () => {
  let net: NatTopology
  let dir: string
  let secretFile: string
  const nodes: NsNode[] = []
  let relay: NsNode
  let homeA: NsNode
  let homeB: NsNode
  let relayAddr: string

  /** Starts the relay; `limits` go into its peerflow.json (none: peerflow's default, unlimited for members). */
  const startRelay = async (limits?: { dataBytes: number }): Promise<NsNode> => {
    await mkdir(join(dir, 'relay'), { recursive: true })
    await writeFile(join(dir, 'relay', 'peerflow.json'), JSON.stringify(limits === undefined ? {} : { relayLimits: limits }))
    const node = await startNodeInNamespace(net.pub.ns, [
      '--data', join(dir, 'relay'), ...listenArgs(), '--relay', '--network-secret-file', secretFile, '--embedder', 'hash'
    ])
    nodes.push(node)
    return node
  }

  beforeAll(async () => {
    // Never skipped: `npm test` installs what these tests need (test/system-prerequisites.sh).
    if (!support.ok) throw new Error(`the NAT tests cannot run here: ${support.why}`)
    net = await createNatTopology()
    dir = await mkdtemp(join(tmpdir(), 'peerflow-nat-'))
    secretFile = join(dir, 'network.secret')
    await createNetworkSecret(secretFile)
    relay = await startRelay()
    relayAddr = `/ip6/${net.pub.addr}/tcp/${PORT}/p2p/${relay.peerId}`
    const home = async (ns: string, name: string, extra: string[] = []): Promise<NsNode> => {
      const node = await startNodeInNamespace(ns, [
        '--data', join(dir, name), ...listenArgs(), '--bootstrap', relayAddr, '--network-secret-file', secretFile, '--embedder', 'hash', ...extra
      ])
      nodes.push(node)
      return node
    }
    homeA = await home(net.homeA.ns, 'home-a')
    homeB = await home(net.homeB.ns, 'home-b')
  }, 90_000)

  afterAll(async () => {
    await Promise.all(nodes.map(async (node) => { await node.stop('SIGKILL') }))
    if (net !== undefined) {
      await net.teardown()
      expect(await net.leftovers()).toEqual([])
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }, 60_000)

  it('homes find they are private, reserve relay slots and connect through the relay; the relay is public', async () => {
    for (const home of [homeA, homeB]) {
      await waitFor('a private home with a relay reservation', async () => {
        const status = await api<StatusReply>(home, 'GET', '/status')
        return status.reachability === 'private' && status.nat.reservations.some((r) => r.relay === relay.peerId) ? status : undefined
      }, 30_000)
    }
    await waitFor('the relay to confirm it is public', async () => {
      const status = await api<StatusReply>(relay, 'GET', '/status')
      return status.reachability === 'public' ? status : undefined
    }, 30_000)
    const row = await waitFor('A and B connected through the relay', async () => await peerRow(homeA, homeB.peerId), 45_000)
    expect(row.route).toBe('relayed')
    expect(row.relay).toBe(relay.peerId)
    // peerflow's relays grant members unlimited circuits, so everything runs over this one.
    expect(row.limited).toBe(false)
    const statusText = await cliIn(homeA, ['status'])
    expect(statusText).toMatch(/reachability: private/)
    expect(statusText).toContain(`relay reservation: ${relay.peerId.slice(0, 8)}`)
    expect(await cliIn(relay, ['status'])).toMatch(/reachability: public[\s\S]*relay service: 2\/64 reservations \(members only, no limits\)/)
    expect(await cliIn(homeA, ['peers'])).toMatch(/relayed via/)
  }, 120_000)

  it('replicates memory both ways and elects a swarm leader over the relayed connection', async () => {
    await write(homeA, 'from-a', 'hello from A')
    await write(homeB, 'from-b', 'hello from B')
    await waitFor('A\'s write on B', async () => await readValue(homeB, 'from-a'), 20_000)
    await waitFor('B\'s write on A', async () => await readValue(homeA, 'from-b'), 20_000)
    await api(homeA, 'POST', '/swarms', { name: 'edge' })
    await waitFor('B to see the swarm', async () => (await api<{ swarms: Array<{ name: string }> }>(homeB, 'GET', '/swarms')).swarms.some((s) => s.name === 'edge') ? true : undefined, 20_000)
    await api(homeB, 'POST', '/swarms/edge/join', {})
    const agreed = await waitFor('both homes to agree on a leader of a two-member swarm', async () => {
      const [a, b] = await Promise.all([homeA, homeB].map(async (node) => await api<SwarmReply>(node, 'GET', '/swarms/edge')))
      return a !== undefined && b !== undefined && a.leader !== null && a.leader === b.leader && a.members.length === 2 && b.members.length === 2 ? a : undefined
    }, 30_000)
    expect([homeA.peerId, homeB.peerId]).toContain(agreed.leader)
    expect((await peerRow(homeA, homeB.peerId))?.route).toBe('relayed')
  }, 90_000)

  it('survives the relay restarting: reservations come back and the homes reconnect through it', async () => {
    await relay.stop()
    nodes.splice(nodes.indexOf(relay), 1)
    await waitFor('A to lose B', async () => await peerRow(homeA, homeB.peerId) === undefined ? true : undefined, 20_000)
    await write(homeA, 'while-down', 'written while the relay was down')
    relay = await startRelay()
    for (const home of [homeA, homeB]) {
      await waitFor('the reservation to come back', async () => {
        const status = await api<StatusReply>(home, 'GET', '/status')
        return status.nat.reservations.some((r) => r.relay === relay.peerId) ? true : undefined
      }, 45_000)
    }
    const row = await waitFor('A and B reconnected through the relay', async () => await peerRow(homeB, homeA.peerId), 45_000)
    expect(row.route).toBe('relayed')
    await waitFor('the write made while the relay was down, on B', async () => await readValue(homeB, 'while-down'), 30_000)
  }, 150_000)

  it('over a relay that limits its circuits, members are still admitted, the node says so, and memory flows through the relay', async () => {
    await relay.stop()
    nodes.splice(nodes.indexOf(relay), 1)
    relay = await startRelay({ dataBytes: 1024 * 1024 })
    const row = await waitFor('A and B reconnected through the limiting relay', async () => {
      const found = await peerRow(homeA, homeB.peerId)
      return found?.limited === true ? found : undefined
    }, 60_000)
    expect(row.route).toBe('relayed')
    expect(await cliIn(homeA, ['peers'])).toMatch(/relayed, limited via/)
    expect(homeA.output() + homeB.output()).toMatch(/this relayed connection is limited by its relay/)
    // Catch-up and gossip stay off the limited circuit; the relay, a member itself, carries them.
    await write(homeB, 'limited-b', 'B behind a limiting relay')
    await waitFor('B\'s write on A', async () => await readValue(homeA, 'limited-b'), 30_000)
  }, 120_000)

  it('goes direct where the NAT allows it (a forwarded port) and keeps working without the relay', async () => {
    // B's router now forwards its port, and B says so: the NAT allows a direct connection.
    await net.forwardPort(net.homeB, PORT)
    await homeB.stop()
    nodes.splice(nodes.indexOf(homeB), 1)
    homeB = await startNodeInNamespace(net.homeB.ns, [
      '--data', join(dir, 'home-b'), ...listenArgs(), '--bootstrap', relayAddr, '--network-secret-file', secretFile, '--embedder', 'hash',
      '--announce', `/ip6/${net.homeB.publicAddr}/tcp/${PORT}`, '--announce', `/ip6/${net.homeB.publicAddr}/udp/${PORT}/quic-v1`
    ])
    nodes.push(homeB)
    await waitFor('B to report public', async () => (await api<StatusReply>(homeB, 'GET', '/status')).reachability === 'public' ? true : undefined, 20_000)
    const row = await withLogs([homeA, homeB], waitFor('A and B connected directly', async () => {
      const found = await peerRow(homeA, homeB.peerId)
      return found?.route === 'direct' ? found : undefined
    }, 45_000))
    expect(row.limited).toBe(false)
    expect(await cliIn(homeA, ['peers'])).toMatch(/direct/)
    // Relayed first (B dials A's relayed address on start), then direct: a direct connection
    // opened while a relayed one was open.
    const upgrades = await Promise.all([homeA, homeB].map(async (node) => (await api<StatusReply>(node, 'GET', '/status')).nat.directUpgrades))
    expect(Math.max(...upgrades)).toBeGreaterThanOrEqual(1)
    // With the relay gone, the direct connection carries replication on its own.
    await relay.stop()
    nodes.splice(nodes.indexOf(relay), 1)
    await write(homeA, 'direct-a', 'A without the relay')
    await write(homeB, 'direct-b', 'B without the relay')
    await waitFor('A\'s write on B over the direct connection', async () => await readValue(homeB, 'direct-a'), 20_000)
    await waitFor('B\'s write on A over the direct connection', async () => await readValue(homeA, 'direct-b'), 20_000)
    expect((await peerRow(homeA, homeB.peerId))?.route).toBe('direct')
  }, 150_000)
})
