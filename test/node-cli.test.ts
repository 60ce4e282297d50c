import { writeFile, chmod, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, type NodeProcess } from './helpers/cli.ts'
import { LOOPBACK_LISTEN_ARGS, nodeProcessesPerTest } from './helpers/node-processes.ts'

const LISTEN = LOOPBACK_LISTEN_ARGS
const { dataDir, start } = nodeProcessesPerTest()

async function commandLineOf (node: NodeProcess): Promise<string[]> {
  return (await readFile(`/proc/${node.child.pid}/cmdline`, 'utf8')).split('\0')
}

describe('the peerflow CLI against node processes', () => {
  it('joins a node started as a separate process and lists it, over QUIC', async () => {
    const [a, b] = await Promise.all([start(await dataDir()), start(await dataDir())])
    const id = await runCli(['id', '--api', a.api, '--json'])
    expect(id.code).toBe(0)
    const identity = JSON.parse(id.stdout) as { peerId: string, addresses: string[] }
    expect(identity.peerId).toBe(a.peerId)
    const quic = identity.addresses.find((addr) => addr.includes('quic-v1'))
    expect(quic).toMatch(/\/p2p\/12D3Koo/)

    const join = await runCli(['join', quic as string, '--api', b.api])
    expect(join.stderr).toBe('')
    expect(join.stdout).toContain(`connected to ${a.peerId} over quic`)

    const peers = JSON.parse((await runCli(['peers', '--api', b.api, '--json'])).stdout) as { peers: Array<{ peerId: string, transport: string }> }
    expect(peers.peers).toEqual([expect.objectContaining({ peerId: a.peerId, transport: 'quic' })])

    const status = await runCli(['status', '--api', b.api])
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/peers:\s+1/)
    expect(status.stdout).toContain(b.peerId)
  })

  it('keeps the PeerId across a restart and stops cleanly on SIGTERM', async () => {
    const dir = await dataDir()
    const first = await start(dir)
    // `start` re-executes itself, same pid, with the node's V8 flags (node/bin/node-flags.js).
    expect(await commandLineOf(first)).toContain('--max-semi-space-size=8')
    expect(await first.stop('SIGTERM')).toBe(0)
    expect((await stat(join(dir, 'identity.key'))).mode & 0o777).toBe(0o600)
    const second = await start(dir, [], { PEERFLOW_NODE_FLAGS: '--max-semi-space-size=4' })
    expect(second.peerId).toBe(first.peerId)
    expect(await commandLineOf(second)).toContain('--max-semi-space-size=4')
  })

  it('answers bad input with one clear line and a non-zero exit', async () => {
    const node = await start(await dataDir())
    const malformed = await runCli(['join', '/ip4/not-an-address', '--api', node.api])
    expect(malformed.code).toBe(2)
    expect(malformed.stderr.trim()).toMatch(/^peerflow: malformed multiaddr '\/ip4\/not-an-address'/)
    expect(malformed.stderr.trim().split('\n')).toHaveLength(1)

    const noNode = await runCli(['status', '--api', '127.0.0.1:9'])
    expect(noNode.code).toBe(1)
    expect(noNode.stderr).toMatch(/no peerflow node answering at 127\.0\.0\.1:9/)

    const badConfig = await runCli(['start', '--data', await dataDir(), '--api', 'nonsense', ...LISTEN])
    expect(badConfig.code).toBe(2)
    expect(badConfig.stderr.trim()).toMatch(/^peerflow: invalid config: api: /)

    const takenApi = await runCli(['start', '--data', await dataDir(), '--api', node.api, ...LISTEN])
    expect(takenApi.code).toBe(1)
    expect(takenApi.stderr).toMatch(/control API address .* is already in use/)
    expect(takenApi.stderr).not.toMatch(/\n\s+at /)

    const quicPort = /udp\/(\d+)/.exec(node.addresses[0] ?? '')?.[1]
    const takenPort = await runCli(['start', '--data', await dataDir(), '--api', '127.0.0.1:0', '--listen', `/ip4/127.0.0.1/udp/${quicPort}/quic-v1`])
    expect(takenPort.code).toBe(1)
    expect(takenPort.stderr).toMatch(/already in use/)
  })

  it('reads peerflow.json, lets env override it and flags override env', async () => {
    const dir = await dataDir()
    await writeFile(join(dir, 'peerflow.json'), JSON.stringify({ maxConnections: 'many' }))
    const invalid = await runCli(['start', '--data', dir, '--api', '127.0.0.1:0', ...LISTEN])
    expect(invalid.code).toBe(2)
    expect(invalid.stderr.trim()).toBe('peerflow: invalid config: maxConnections: Invalid input: expected number, received string')

    await writeFile(join(dir, 'peerflow.json'), JSON.stringify({ api: 'not-an-api' }))
    const fromEnv = await start(dir, [])
      .catch((err: Error) => err)
    // The flag given by `start` (--api 127.0.0.1:0) wins over the file's invalid value.
    expect(fromEnv).not.toBeInstanceOf(Error)
  })

  it('refuses a world-readable identity key', async () => {
    const dir = await dataDir()
    const first = await start(dir)
    await first.stop()
    await chmod(join(dir, 'identity.key'), 0o644)
    const result = await runCli(['start', '--data', dir, '--api', '127.0.0.1:0', ...LISTEN])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/identity\.key is readable by other users.*chmod 600/)
  })
})
