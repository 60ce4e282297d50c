import { NETNS_PREFIX, removeStaleNamespaces, sh } from '../../test/helpers/netns.ts'

/**
 * A LAN of network namespaces for many-node benchmarks: one namespace holds a bridge, and each
 * node gets its own namespace joined to it by a veth pair. Nothing touches the host's interfaces,
 * addresses or routes: every veth is created directly inside namespaces this run owns, and names
 * carry the owner's pid (the scheme of test/helpers/netns.ts), so stale ones from a crashed run
 * are removed by the next and a live run's are never touched.
 *
 * Addressing: 10.77.0.0/16 on the bridge; node slot i (from 0) is 10.77.<i div 250>.<i mod 250 + 2>.
 */

export interface BridgedLan {
  /** Namespace holding the bridge. */
  hub: string
  /** The namespace of node slot `index`, created on first use (slots may be added while running). */
  slot: (index: number) => Promise<{ ns: string, addr: string }>
  /** Kills whatever still runs inside and removes every namespace (and with them every veth). */
  teardown: () => Promise<void>
  /** Namespaces and links of this run that still exist. */
  leftovers: () => Promise<string[]>
}

/** Why this machine cannot run the bench (one line), or undefined when it can. */
export async function bridgedLanUnsupported (): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (it creates network namespaces): run it as root, e.g. sudo npm run bench:scale'
  try {
    await sh('ip', ['-V'])
  } catch {
    return 'needs iproute2 (the `ip` command): apt-get install iproute2'
  }
  const probe = `${NETNS_PREFIX}${process.pid.toString(36)}_probe`
  try {
    await sh('ip', ['netns', 'add', probe])
    await sh('ip', ['-n', probe, 'link', 'add', 'br0', 'type', 'bridge'])
    return undefined
  } catch (err) {
    return `network namespaces or bridges unavailable: ${(err as Error).message.split('\n')[0] ?? ''}`
  } finally {
    await sh('ip', ['netns', 'del', probe]).catch(() => {})
  }
}

export function slotAddress (index: number): string {
  return `10.77.${Math.floor(index / 250)}.${(index % 250) + 2}`
}

async function namespacesStartingWith (prefix: string): Promise<string[]> {
  const out = await sh('ip', ['netns', 'list']).catch(() => '')
  return out.split('\n').map((line) => line.split(' ')[0] ?? '').filter((ns) => ns.startsWith(prefix))
}

async function killProcessesIn (ns: string): Promise<void> {
  const pids = (await sh('ip', ['netns', 'pids', ns]).catch(() => '')).split('\n').filter(Boolean)
  for (const pid of pids) {
    try { process.kill(Number(pid), 'SIGKILL') } catch {}
  }
}

export async function createBridgedLan (): Promise<BridgedLan> {
  await removeStaleNamespaces()
  const prefix = `${NETNS_PREFIX}${process.pid.toString(36)}_${Math.floor(Math.random() * 36 ** 2).toString(36)}`
  const hub = `${prefix}-hub`
  const slots = new Map<number, Promise<{ ns: string, addr: string }>>()
  const ipIn = async (ns: string, ...args: string[]): Promise<void> => { await sh('ip', ['-n', ns, ...args]) }

  const teardown = async (): Promise<void> => {
    const all = await namespacesStartingWith(prefix)
    await Promise.all(all.map(killProcessesIn))
    for (const ns of all) await sh('ip', ['netns', 'del', ns]).catch(() => {})
  }

  const createSlot = async (index: number): Promise<{ ns: string, addr: string }> => {
    const ns = `${prefix}-n${index}`
    const addr = slotAddress(index)
    await sh('ip', ['netns', 'add', ns])
    await ipIn(ns, 'link', 'set', 'lo', 'up')
    // veth names are per namespace: `eth0` in the node's, `v<index>` on the bridge's side.
    await sh('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `v${index}`, 'netns', hub])
    await ipIn(hub, 'link', 'set', `v${index}`, 'master', 'br0')
    await ipIn(hub, 'link', 'set', `v${index}`, 'up')
    await ipIn(ns, 'addr', 'add', `${addr}/16`, 'dev', 'eth0')
    await ipIn(ns, 'link', 'set', 'eth0', 'up')
    return { ns, addr }
  }

  try {
    await sh('ip', ['netns', 'add', hub])
    await ipIn(hub, 'link', 'set', 'lo', 'up')
    await ipIn(hub, 'link', 'add', 'br0', 'type', 'bridge')
    await ipIn(hub, 'link', 'set', 'br0', 'up')
  } catch (err) {
    await teardown()
    throw err
  }
  return {
    hub,
    slot: async (index) => {
      let slot = slots.get(index)
      if (slot === undefined) {
        slot = createSlot(index)
        slots.set(index, slot)
      }
      return slot
    },
    teardown,
    leftovers: async () => {
      const left = await namespacesStartingWith(prefix)
      const links = (await sh('ip', ['-o', 'link', 'show']).catch(() => '')).split('\n').filter((line) => line.includes(prefix))
      return [...left, ...links]
    }
  }
}
