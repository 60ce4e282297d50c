import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { PEERFLOW_BIN } from './cli.ts'

/**
 * Network namespaces for NAT tests: a small Internet with a public host and two homes, each behind
 * its own masquerading router, all inside namespaces this run creates and removes. Nothing touches
 * the host's own interfaces, addresses or routes: every veth is created directly inside its
 * namespaces, and the nodes' control APIs are reached through unix sockets (a path on the shared
 * file system crosses namespaces; a TCP port on a namespace's loopback does not).
 *
 * Addressing: the homes use ULA prefixes (fd20:200::/32, private to libp2p); the "Internet" uses
 * 3fff:200::/32 inside the IPv6 documentation prefix 3fff::/20 (RFC 9637), which is routed nowhere.
 * A documentation prefix is needed there because libp2p counts every private, shared and IPv4 test
 * range (10/8, 100.64/10, 192.0.2/24, 198.18/15, 198.51.100/24, 203.0.113/24, ...) as non-public:
 * AutoNAT would never confirm such an address and DCUtR would never dial it.
 */

const run = promisify(execFile)

/** Every name this module creates starts with this, then the owning process id in base 36. */
export const NETNS_PREFIX = 'pfn'

export async function sh (command: string, args: string[]): Promise<string> {
  const { stdout } = await run(command, args, { maxBuffer: 4 * 1024 * 1024 })
  return stdout
}

async function ipIn (ns: string, ...args: string[]): Promise<void> {
  await sh('ip', ['-n', ns, ...args])
}

async function execIn (ns: string, command: string, args: string[]): Promise<string> {
  return sh('ip', ['netns', 'exec', ns, command, ...args])
}

/** Whether this machine can run the NAT tests: root, iproute2 and ip6tables, network namespaces. */
export async function netnsSupport (): Promise<{ ok: true } | { ok: false, why: string }> {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root' }
  try {
    await sh('ip', ['-V'])
  } catch {
    return { ok: false, why: 'iproute2 (ip) is not installed' }
  }
  try {
    await sh('ip6tables', ['--version'])
  } catch {
    return { ok: false, why: 'ip6tables is not installed (apt-get install iptables)' }
  }
  const probe = `${NETNS_PREFIX}${process.pid.toString(36)}_probe`
  try {
    await sh('ip', ['netns', 'add', probe])
    await execIn(probe, 'ip6tables', ['-t', 'nat', '-L'])
    return { ok: true }
  } catch (err) {
    return { ok: false, why: `network namespaces or IPv6 NAT unavailable: ${(err as Error).message.split('\n')[0] ?? ''}` }
  } finally {
    await sh('ip', ['netns', 'del', probe]).catch(() => {})
  }
}

async function namespaces (): Promise<string[]> {
  const out = await sh('ip', ['netns', 'list']).catch(() => '')
  return out.split('\n').map((line) => line.split(' ')[0] ?? '').filter(Boolean)
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes namespaces left by runs that died without tearing down (their process is gone). Names
 * carry the owner's pid, so a run never touches another live run's namespaces.
 */
export async function removeStaleNamespaces (): Promise<string[]> {
  const removed: string[] = []
  for (const ns of await namespaces()) {
    const match = new RegExp(`^${NETNS_PREFIX}([0-9a-z]+)_`).exec(ns)
    if (match === null) continue
    const pid = Number.parseInt(match[1] as string, 36)
    if (pid === process.pid || alive(pid)) continue
    await killProcessesIn(ns)
    await sh('ip', ['netns', 'del', ns]).catch(() => {})
    removed.push(ns)
  }
  return removed
}

async function killProcessesIn (ns: string): Promise<void> {
  const pids = (await sh('ip', ['netns', 'pids', ns]).catch(() => '')).split('\n').filter(Boolean)
  for (const pid of pids) {
    try { process.kill(Number(pid), 'SIGKILL') } catch {}
  }
}

export interface Home {
  /** Namespace of the host behind the NAT, and of its router. */
  ns: string
  router: string
  /** The home host's own (ULA) address. */
  addr: string
  /** The router's public address: what the rest of the Internet sees the home as. */
  publicAddr: string
  /** The router's interface towards the Internet (where delay and port forwards go). */
  uplink: string
}

export interface NatTopology {
  prefix: string
  /** The core router between the public host and the two homes' routers. */
  inet: string
  pub: { ns: string, addr: string }
  homeA: Home
  homeB: Home
  /** Forwards a port (TCP and UDP) from a home's router to the home host: a NAT that lets it be reached. */
  forwardPort: (home: Home, port: number) => Promise<void>
  /** Adds `ms` of delay on a home's uplink, each way; resolves false where the kernel lacks netem. */
  delay: (home: Home, ms: number) => Promise<boolean>
  /** Kills whatever still runs inside and removes every namespace (and with them every veth and rule). */
  teardown: () => Promise<void>
  /** Namespaces and interfaces of this run that still exist (for checking the tear-down). */
  leftovers: () => Promise<string[]>
}

/**
 *   pub ──┐                  ┌── rtrA ══ NAT ══ homeA
 *         inet (core router) ┤
 *                            └── rtrB ══ NAT ══ homeB
 */
export async function createNatTopology (): Promise<NatTopology> {
  await removeStaleNamespaces()
  const prefix = `${NETNS_PREFIX}${process.pid.toString(36)}_${Math.floor(Math.random() * 36 ** 2).toString(36)}`
  const name = (role: string): string => `${prefix}-${role}`
  const inet = name('inet')
  const pub = name('pub')
  const rtrA = name('rtra')
  const homeA = name('homea')
  const rtrB = name('rtrb')
  const homeB = name('homeb')
  const all = [inet, pub, rtrA, homeA, rtrB, homeB]
  // veth names are per namespace, so short fixed names do; the namespaces keep runs apart.
  const link = async (nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> => {
    await sh('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB])
    await ipIn(nsA, 'link', 'set', ifA, 'up')
    await ipIn(nsB, 'link', 'set', ifB, 'up')
  }
  const address = async (ns: string, dev: string, cidr: string): Promise<void> => {
    // nodad: duplicate address detection would hold the address back for a second or two.
    await ipIn(ns, '-6', 'addr', 'add', cidr, 'dev', dev, 'nodad')
  }
  const teardown = async (): Promise<void> => {
    for (const ns of all) await killProcessesIn(ns)
    for (const ns of all) await sh('ip', ['netns', 'del', ns]).catch(() => {})
  }
  try {
    for (const ns of all) {
      await sh('ip', ['netns', 'add', ns])
      await ipIn(ns, 'link', 'set', 'lo', 'up')
    }
    await link(inet, 'to-pub', pub, 'up0')
    await link(inet, 'to-rtra', rtrA, 'up0')
    await link(inet, 'to-rtrb', rtrB, 'up0')
    await link(rtrA, 'lan0', homeA, 'eth0')
    await link(rtrB, 'lan0', homeB, 'eth0')
    await address(inet, 'to-pub', '3fff:200:0:10::1/64')
    await address(pub, 'up0', '3fff:200:0:10::2/64')
    await address(inet, 'to-rtra', '3fff:200:0:a::1/64')
    await address(rtrA, 'up0', '3fff:200:0:a::2/64')
    await address(inet, 'to-rtrb', '3fff:200:0:b::1/64')
    await address(rtrB, 'up0', '3fff:200:0:b::2/64')
    await address(rtrA, 'lan0', 'fd20:200:a::1/64')
    await address(homeA, 'eth0', 'fd20:200:a::2/64')
    await address(rtrB, 'lan0', 'fd20:200:b::1/64')
    await address(homeB, 'eth0', 'fd20:200:b::2/64')
    await ipIn(pub, '-6', 'route', 'add', 'default', 'via', '3fff:200:0:10::1')
    await ipIn(rtrA, '-6', 'route', 'add', 'default', 'via', '3fff:200:0:a::1')
    await ipIn(rtrB, '-6', 'route', 'add', 'default', 'via', '3fff:200:0:b::1')
    await ipIn(homeA, '-6', 'route', 'add', 'default', 'via', 'fd20:200:a::1')
    await ipIn(homeB, '-6', 'route', 'add', 'default', 'via', 'fd20:200:b::1')
    for (const router of [inet, rtrA, rtrB]) await execIn(router, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1'])
    for (const router of [rtrA, rtrB]) {
      // A home router: rewrite the source of everything leaving (ports preserved where free), and
      // let in from the Internet only what answers a flow started inside.
      await execIn(router, 'ip6tables', ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'up0', '-j', 'MASQUERADE'])
      await execIn(router, 'ip6tables', ['-A', 'FORWARD', '-i', 'up0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED,DNAT', '-j', 'ACCEPT'])
      await execIn(router, 'ip6tables', ['-A', 'FORWARD', '-i', 'up0', '-j', 'DROP'])
    }
  } catch (err) {
    await teardown()
    throw err
  }
  const home = (ns: string, router: string, addr: string, publicAddr: string): Home => ({ ns, router, addr, publicAddr, uplink: 'up0' })
  const topology: NatTopology = {
    prefix,
    inet,
    pub: { ns: pub, addr: '3fff:200:0:10::2' },
    homeA: home(homeA, rtrA, 'fd20:200:a::2', '3fff:200:0:a::2'),
    homeB: home(homeB, rtrB, 'fd20:200:b::2', '3fff:200:0:b::2'),
    forwardPort: async (target, port) => {
      for (const proto of ['tcp', 'udp']) {
        await execIn(target.router, 'ip6tables', ['-t', 'nat', '-A', 'PREROUTING', '-i', 'up0', '-p', proto, '--dport', String(port), '-j', 'DNAT', '--to-destination', `[${target.addr}]:${port}`])
      }
    },
    delay: async (target, ms) => {
      try {
        // Outbound on the uplink delays what leaves the home; the same on the home's side of the
        // router delays what comes back: `ms` each way.
        await execIn(target.router, 'tc', ['qdisc', 'add', 'dev', 'up0', 'root', 'netem', 'delay', `${ms}ms`])
        await execIn(target.router, 'tc', ['qdisc', 'add', 'dev', 'lan0', 'root', 'netem', 'delay', `${ms}ms`])
        return true
      } catch {
        return false
      }
    },
    teardown,
    leftovers: async () => {
      const left = (await namespaces()).filter((ns) => ns.startsWith(prefix))
      const links = (await sh('ip', ['-o', 'link', 'show']).catch(() => '')).split('\n').filter((line) => line.includes(prefix))
      return [...left, ...links]
    }
  }
  return topology
}

export interface NsNode {
  ns: string
  child: ChildProcess
  peerId: string
  addresses: string[]
  /** The API port inside the namespace (127.0.0.1 there). */
  apiPort: number
  /** Unix socket reaching the API from outside the namespace. */
  socket: string
  output: () => string
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

/** Forwards a unix socket to a TCP port on the loopback of the namespace it runs in. */
const BRIDGE_SOURCE = `
const net = require('node:net')
const [socketPath, port] = process.argv.slice(1)
net.createServer((client) => {
  const upstream = net.connect(Number(port), '127.0.0.1')
  client.pipe(upstream).pipe(client)
  const drop = () => { client.destroy(); upstream.destroy() }
  client.on('error', drop); upstream.on('error', drop)
}).listen(socketPath, () => process.stdout.write('ready\\n'))
`

/**
 * Runs `peerflow start` inside a namespace (`ip netns exec`), waits for its banner, and bridges its
 * control API to a unix socket for the test to call.
 */
export async function startNodeInNamespace (ns: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<NsNode> {
  const apiPort = 7433
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, PEERFLOW_BIN, 'start', '--api', `127.0.0.1:${apiPort}`, ...args], {
    env: { ...process.env, PEERFLOW_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const banner = await new Promise<{ peerId: string, addresses: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`node in ${ns} did not start within ${timeoutMs} ms:\n${output}`)) }, timeoutMs)
    const check = (): void => {
      const api = /control API: http:\/\/(\S+)/.exec(output)?.[1]
      const peerId = /peerflow node (\S+)/.exec(output)?.[1]
      if (api !== undefined && peerId !== undefined) {
        clearTimeout(timer)
        resolve({ peerId, addresses: [...output.matchAll(/^ {2}(\/\S+)$/gm)].map((m) => m[1] as string) })
      }
    }
    child.stdout?.on('data', check)
    void exited.then(() => { clearTimeout(timer); reject(new Error(`node in ${ns} exited before starting:\n${output}`)) })
  })
  const socket = join(tmpdir(), `${ns}.sock`)
  await rm(socket, { force: true })
  const bridge = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', BRIDGE_SOURCE, socket, String(apiPort)], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    bridge.stdout?.once('data', () => resolve())
    bridge.once('exit', (code) => reject(new Error(`API bridge in ${ns} exited with ${code}`)))
  })
  return {
    ns,
    child,
    ...banner,
    apiPort,
    socket,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
      bridge.kill('SIGKILL')
      await rm(socket, { force: true })
    }
  }
}

/** One control API call through a node's unix socket bridge. */
export async function api<T> (node: Pick<NsNode, 'socket' | 'apiPort'>, method: string, path: string, body?: unknown): Promise<T> {
  if (!existsSync(node.socket)) throw new Error(`no API bridge at ${node.socket}`)
  return new Promise<T>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = request({
      socketPath: node.socket,
      method,
      path,
      headers: { host: `127.0.0.1:${node.apiPort}`, ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }) },
      // A connection per call: a kept-alive one can be closed by the server as the next call goes out.
      agent: false,
      timeout: 60_000
    }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 400) reject(new Error(`${method} ${path}: ${res.statusCode}: ${text}`))
        else resolve(JSON.parse(text) as T)
      })
    })
    req.on('timeout', () => { req.destroy(new Error(`${method} ${path}: timed out`)) })
    req.on('error', reject)
    req.end(payload)
  })
}

/** Runs the real `peerflow` CLI inside a namespace against the node's API there. */
export async function cliIn (node: Pick<NsNode, 'ns' | 'apiPort'>, args: string[]): Promise<string> {
  return execIn(node.ns, process.execPath, [PEERFLOW_BIN, ...args, '--api', `127.0.0.1:${node.apiPort}`])
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function waitFor<T> (what: string, check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === undefined ? '' : ` (last error: ${(lastError as Error).message})`}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
