import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import type { NodeConfig } from '../config/config.ts'
import { failed, passed, type CheckResult, type RunningNode } from './check.ts'

export interface PortUse {
  /** What the port is for, e.g. 'QUIC /ip4/0.0.0.0/udp/4433/quic-v1'. */
  purpose: string
  protocol: 'tcp' | 'udp'
  host: string
  port: number
}

/** The sockets a node started with this config binds: enabled listen addresses and the control API. */
export function portsOf (config: NodeConfig): PortUse[] {
  const uses: PortUse[] = []
  for (const addr of config.listen) {
    const components = multiaddr(addr).getComponents()
    const host = components.find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
    const transport = components.find((c) => c.name === 'tcp' || c.name === 'udp')
    if (host === undefined || transport?.value === undefined) continue
    const quic = components.some((c) => c.name === 'quic-v1' || c.name === 'quic')
    if (quic ? !config.quic : transport.name === 'tcp' && !config.tcp) continue
    uses.push({ purpose: `${quic ? 'QUIC' : transport.name.toUpperCase()} ${addr}`, protocol: transport.name as 'tcp' | 'udp', host, port: Number(transport.value) })
  }
  const separator = config.api.lastIndexOf(':')
  uses.push({ purpose: `control API ${config.api}`, protocol: 'tcp', host: config.api.slice(0, separator).replace(/^\[|\]$/g, ''), port: Number(config.api.slice(separator + 1)) })
  return uses
}

/** Binds the port for a moment: undefined when it is free, else the system's reason (EADDRINUSE…). */
export async function bindProblem ({ protocol, host, port }: PortUse): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (protocol === 'tcp') {
      const server = createServer()
      server.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message) })
      server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve(undefined) }) })
    } else {
      const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4')
      socket.once('error', (err: NodeJS.ErrnoException) => { socket.close(); resolve(err.code ?? err.message) })
      socket.bind({ address: host, port, exclusive: true }, () => { socket.close(() => { resolve(undefined) }) })
    }
  })
}

const EXPLAINED: Record<string, string> = {
  EADDRINUSE: 'already in use by another program',
  EACCES: 'needs privileges (ports below 1024)',
  EADDRNOTAVAIL: 'that address is not on this machine'
}

/** Free ports, or ports held by the node that answered on the control API. */
export async function checkPorts (config: NodeConfig, running: RunningNode | undefined, apiProblem: string | undefined): Promise<CheckResult> {
  const name = 'ports'
  if (running !== undefined) {
    return passed(name, `held by the running node ${running.peerId}: API ${running.api}, ${running.listen.length} listen addresses`)
  }
  const problems: string[] = []
  const checked: string[] = []
  for (const use of portsOf(config)) {
    if (use.port === 0) continue
    const problem = await bindProblem(use)
    checked.push(`${use.protocol}/${use.port}`)
    if (problem !== undefined) problems.push(`${use.purpose}: ${EXPLAINED[problem] ?? problem}`)
  }
  if (problems.length > 0) {
    const stranger = apiProblem === undefined ? '' : ` (no peerflow node answered on the API: ${apiProblem})`
    return failed(name, `${problems.join('; ')}${stranger}`,
      'stop the program holding the port (`ss -lntup` names it), or choose other addresses with --listen and --api')
  }
  return passed(name, checked.length === 0 ? 'only ephemeral ports configured' : `free: ${checked.join(', ')}`)
}
