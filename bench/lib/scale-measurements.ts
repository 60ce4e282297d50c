import { api, waitFor } from '../../test/helpers/netns.ts'
import { counterDelta, entriesIn, gossipCounters, type BedNode, type GossipCounters, type ScaleTestbed } from './scale-testbed.ts'

/** The measurements of bench:scale, each against the nodes of one test bed. */

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** A value of about `bytes` characters, distinct per key. */
function payload (key: string, bytes: number): string {
  return `${key}:${'x'.repeat(Math.max(0, bytes - key.length - 1))}`
}

/** Runs `task(i)` for i in [0, count) with at most `parallel` in flight. */
async function pooled (count: number, parallel: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, async () => {
    while (next < count) await task(next++)
  }))
}

/** Writes `count` entries spread over `writers` (round robin), `parallel` requests in flight. */
export async function writeMany (writers: BedNode[], namespace: string, prefix: string, count: number, valueBytes: number, parallel = 8): Promise<void> {
  await pooled(count, parallel, async (i) => {
    const key = `${prefix}-${i}`
    await api((writers[i % writers.length] as BedNode).process, 'POST', `/memory/${namespace}`, { key, value: payload(key, valueBytes) })
  })
}

/**
 * Writes `count` entries in batches of `batchSize` (POST /memory/:namespace/batch: one update each),
 * spread over `writers` (round robin), `parallel` batches in flight. On a loaded 30-node network a
 * single write costs every node a gossip delivery, so bulk volume goes in batches.
 */
export async function writeBatches (writers: BedNode[], namespace: string, prefix: string, count: number, valueBytes: number, batchSize: number, parallel = 4): Promise<void> {
  await pooled(Math.ceil(count / batchSize), parallel, async (b) => {
    const entries = Array.from({ length: Math.min(batchSize, count - b * batchSize) }, (_, i) => {
      const key = `${prefix}-${b * batchSize + i}`
      return { key, value: payload(key, valueBytes) }
    })
    await api((writers[b % writers.length] as BedNode).process, 'POST', `/memory/${namespace}/batch`, { entries })
  })
}

const PROGRESS_EVERY_MS = 15_000

/** Waits until every given node holds `count` entries in `namespace`, saying every 15 s how far the nodes are. */
export async function waitForEntries (nodes: BedNode[], namespace: string, count: number, timeoutMs: number): Promise<void> {
  const started = performance.now()
  let lastReport = started
  let counts: number[] = []
  try {
    await waitFor(`${nodes.length} nodes to hold ${count} entries of ${namespace}`, async () => {
      counts = await Promise.all(nodes.map(async (node) => entriesIn(node, namespace)))
      if (performance.now() - lastReport >= PROGRESS_EVERY_MS) {
        lastReport = performance.now()
        process.stdout.write(`    ${((lastReport - started) / 1000).toFixed(0)} s: ${describeCounts(counts, count)}\n`)
      }
      return counts.every((c) => c >= count) ? true : undefined
    }, timeoutMs, 250)
  } catch (err) {
    // What each lagging node did meanwhile: whether gossip or catch-up still reached it.
    const lagging = await Promise.all(nodes.filter((_, i) => (counts[i] ?? 0) < count).map(async (node) => {
      const seen = await gossipCounters(node).catch(() => undefined)
      return seen === undefined ? `node ${node.slot}: no answer` : `node ${node.slot}: ${seen.delivered} gossip messages, ${seen.syncBytesReceived} B by catch-up`
    }))
    throw new Error(`${(err as Error).message}; ${describeCounts(counts, count)}; ${lagging.join('; ')}`)
  }
}

function describeCounts (counts: number[], count: number): string {
  const sorted = [...counts].sort((a, b) => a - b)
  return `${counts.filter((c) => c >= count).length}/${counts.length} nodes hold all ${count}, the others ${sorted.filter((c) => c < count).join(', ')}`
}

async function holds (node: BedNode, namespace: string, key: string, value: string): Promise<boolean> {
  try {
    const { entry } = await api<{ entry: { value: unknown } }>(node.process, 'GET', `/memory/${namespace}/${key}`)
    return entry.value === value
  } catch {
    return false
  }
}

export interface WriteToAllResult {
  /** Per write: from the write request on one node until the last other node holds the value. */
  toAllMs: number[]
  /** Per write and receiving node: until that node holds it (the distribution behind toAllMs). */
  perNodeMs: number[]
  /** Counter deltas per node over the writes, minus the same nodes' idle traffic over an equal window. */
  perNode: GossipCounters[]
  idlePerNodePerSecond: GossipCounters[]
  windowMs: number
}

/**
 * `writes` writes, one at a time, rotating over the writers; after each, every other node is polled
 * every `pollMs` until it holds the value. Gossip counters are read on every node before and after,
 * and an idle window of the same length before the writes gives the background (heartbeats,
 * IHAVE gossip, pings) to subtract.
 */
export async function writeToAll (bed: ScaleTestbed, namespace: string, writes: number, valueBytes: number, pollMs: number): Promise<WriteToAllResult> {
  const nodes = bed.running()
  // The first write creates the namespace and its topic everywhere: not measured.
  await writeMany(nodes.slice(0, 1), namespace, 'warm', 1, valueBytes)
  await waitForEntries(nodes, namespace, 1, 60_000)
  await sleep(2_000)

  const toAllMs: number[] = []
  const perNodeMs: number[] = []
  const run = async (): Promise<void> => {
    for (let i = 0; i < writes; i++) {
      const writer = nodes[i % nodes.length] as BedNode
      const key = `w${i}`
      const value = payload(key, valueBytes)
      const others = nodes.filter((node) => node !== writer)
      const started = performance.now()
      await api(writer.process, 'POST', `/memory/${namespace}`, { key, value })
      const arrivals = await Promise.all(others.map(async (node) => {
        for (;;) {
          if (await holds(node, namespace, key, value)) return performance.now() - started
          if (performance.now() - started > 30_000) throw new Error(`write ${key} did not reach node ${node.slot} within 30 s`)
          await sleep(pollMs)
        }
      }))
      perNodeMs.push(...arrivals)
      toAllMs.push(Math.max(...arrivals))
      // Writes spaced out: each one's fan-out is measured, not a backlog.
      await sleep(50)
    }
  }

  const idleBefore = await Promise.all(nodes.map(gossipCounters))
  const writesStarted = performance.now()
  await run()
  // Late IHAVE/IWANT exchanges for the last writes settle within a gossipsub heartbeat or two.
  await sleep(2_000)
  const windowMs = performance.now() - writesStarted
  const after = await Promise.all(nodes.map(gossipCounters))
  // The idle background, measured right after over an equal window with no writes.
  await sleep(windowMs)
  const idleAfter = await Promise.all(nodes.map(gossipCounters))
  const idle = idleAfter.map((end, i) => counterDelta(end, after[i] as GossipCounters))
  const busy = after.map((end, i) => counterDelta(end, idleBefore[i] as GossipCounters))
  const perNode = busy.map((delta, i) => counterDelta(delta, idle[i] as GossipCounters))
  const perSecond = (c: GossipCounters): GossipCounters => {
    const out = { ...c }
    for (const key of Object.keys(out) as Array<keyof GossipCounters>) out[key] = c[key] * 1000 / windowMs
    return out
  }
  return { toAllMs, perNodeMs, perNode, idlePerNodePerSecond: idle.map(perSecond), windowMs }
}

export interface JoinSample {
  /** From spawning the process until it holds every entry of the preloaded namespace. */
  joinMs: number
  /** From its start banner (process up, API answering) until then. */
  afterStartMs: number
  syncBytesReceived: number
  meshsubBytesReceived: number
}

/** A fresh node (new namespace, empty data dir) joins through node 0 and syncs `namespace`; then it is removed. */
export async function joinOnce (bed: ScaleTestbed, namespace: string, expected: number, timeoutMs: number): Promise<JoinSample> {
  const spawned = performance.now()
  const joiner = await bed.add()
  const up = performance.now()
  try {
    await waitFor(`the joiner to hold ${expected} entries of ${namespace}`, async () => (await entriesIn(joiner, namespace)) >= expected ? true : undefined, timeoutMs, 50)
    const done = performance.now()
    const counters = await gossipCounters(joiner)
    return { joinMs: done - spawned, afterStartMs: done - up, syncBytesReceived: counters.syncBytesReceived, meshsubBytesReceived: counters.meshsubBytesReceived }
  } finally {
    await bed.discard(joiner)
  }
}

export interface CatchUpSample {
  /** From restarting the node until it holds every write it missed. */
  catchUpMs: number
  /** From its start banner (process up, API answering) until then. */
  afterStartMs: number
  syncBytesReceived: number
}

/**
 * Stops `away`, writes `writes` entries on the other nodes (in batches of `batchSize`), snapshots `away`'s stale data dir,
 * then `repeats` times: restores the stale copy, restarts it and times until it holds them all.
 */
export async function catchUp (bed: ScaleTestbed, away: BedNode, namespace: string, writes: number, valueBytes: number, batchSize: number, repeats: number, timeoutMs: number): Promise<{ samples: CatchUpSample[], writeMs: number }> {
  await bed.stop(away, 'SIGTERM')
  const stale = await bed.snapshot(away)
  const others = bed.running()
  const writeStarted = performance.now()
  await writeBatches(others, namespace, 'missed', writes, valueBytes, batchSize)
  await waitForEntries(others, namespace, writes, timeoutMs)
  const writeMs = performance.now() - writeStarted
  const samples: CatchUpSample[] = []
  for (let r = 0; r < repeats; r++) {
    await bed.stop(away, 'SIGKILL')
    await bed.restoreDataDir(away, stale)
    const started = performance.now()
    await bed.restart(away)
    const up = performance.now()
    await waitFor(`the returning node to hold ${writes} entries of ${namespace}`, async () => (await entriesIn(away, namespace)) >= writes ? true : undefined, timeoutMs, 50)
    const done = performance.now()
    samples.push({ catchUpMs: done - started, afterStartMs: done - up, syncBytesReceived: (await gossipCounters(away)).syncBytesReceived })
  }
  return { samples, writeMs }
}
