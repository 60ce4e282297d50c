import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'

export const KNOWN_PEERS_FILE = 'peers.json'
/** A peer not seen for this long is forgotten instead of being redialled forever. */
const FORGET_AFTER_MS = 7 * 24 * 3600_000
const MAX_KNOWN_PEERS = 1000

const KnownPeer = z.object({
  peerId: z.string(),
  addrs: z.array(z.string()),
  lastSeen: z.number()
})
export type KnownPeer = z.infer<typeof KnownPeer>

/** Peers this node has been connected to, remembered in the data dir so a restart can redial them. */
export class KnownPeers {
  readonly #path: string
  readonly #peers = new Map<string, KnownPeer>()
  #saving: Promise<void> = Promise.resolve()
  #dirty = false

  private constructor (path: string) {
    this.#path = path
  }

  static async open (dataDir: string, now = Date.now()): Promise<KnownPeers> {
    const known = new KnownPeers(join(dataDir, KNOWN_PEERS_FILE))
    let text: string | undefined
    try {
      text = await readFile(known.#path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (text !== undefined) {
      // A damaged peer list only costs rediscovery; it must not stop the node.
      const parsed = z.array(KnownPeer).safeParse(safeJson(text))
      for (const peer of parsed.success ? parsed.data : []) {
        if (now - peer.lastSeen < FORGET_AFTER_MS) known.#peers.set(peer.peerId, peer)
      }
    }
    return known
  }

  list (): KnownPeer[] {
    return [...this.#peers.values()]
  }

  remember (peerId: string, addrs: string[], now = Date.now()): void {
    if (addrs.length === 0) return
    this.#peers.set(peerId, { peerId, addrs, lastSeen: now })
    if (this.#peers.size > MAX_KNOWN_PEERS) {
      const oldest = [...this.#peers.values()].sort((a, b) => a.lastSeen - b.lastSeen)[0]
      if (oldest !== undefined) this.#peers.delete(oldest.peerId)
    }
    this.#scheduleSave()
  }

  forget (peerId: string): void {
    if (this.#peers.delete(peerId)) this.#scheduleSave()
  }

  /** Resolves once everything remembered so far is on disk. */
  async flush (): Promise<void> {
    await this.#saving
  }

  #scheduleSave (): void {
    if (this.#dirty) return
    this.#dirty = true
    this.#saving = this.#saving.then(async () => {
      this.#dirty = false
      const tmp = `${this.#path}.tmp`
      await writeFile(tmp, JSON.stringify(this.list(), null, 1))
      await rename(tmp, this.#path)
    }).catch(() => {
      // Best effort: the list is a hint for redialling, and the next change retries the write.
    })
  }
}

function safeJson (text: string): unknown {
  try { return JSON.parse(text) } catch { return undefined }
}
