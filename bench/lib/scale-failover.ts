import { api, waitFor } from '../../test/helpers/netns.ts'
import type { BedNode, ScaleTestbed } from './scale-testbed.ts'

/**
 * Leader failover in one swarm of every node of the bed: the first `voters` members to join vote,
 * the rest follow as non-voting workers. Each round kills the leader (SIGKILL) and times until
 * every survivor, voter or worker, names the same new leader. The time is when each survivor
 * learned that leader, from its own swarm event log (`leader-changed` events carry the node's wall
 * clock, which every namespace of the machine shares): polling 29 nodes through their APIs on a
 * loaded machine takes a second or more per round, which would otherwise be the resolution.
 */

interface SwarmView {
  leader: string | null
  term: number
  members: Array<{ peerId: string, voter: boolean }>
}

async function viewOf (node: BedNode, swarm: string): Promise<SwarmView | null> {
  try {
    return await api<SwarmView>(node.process, 'GET', `/swarms/${swarm}`)
  } catch {
    return null
  }
}

function agreement (views: Array<SwarmView | null>): { leader: string, term: number } | undefined {
  const first = views[0]
  if (first === null || first === undefined || first.leader === null) return undefined
  return views.every((view) => view !== null && view.leader === first.leader && view.term === first.term) ? { leader: first.leader, term: first.term } : undefined
}

async function agreed (nodes: BedNode[], swarm: string, timeoutMs: number): Promise<{ leader: string, term: number }> {
  return waitFor(`${nodes.length} members to agree on a leader of ${swarm}`, async () => agreement(await Promise.all(nodes.map(async (node) => viewOf(node, swarm)))), timeoutMs, 100)
}

/** Joins `node` to `swarm` once its definition has replicated there, retrying while an election or change is under way. */
export async function joinSwarm (node: BedNode, swarm: string): Promise<void> {
  await waitFor(`node ${node.slot} to join ${swarm}`, async () => {
    if (await viewOf(node, swarm) === null) return undefined
    try {
      await api(node.process, 'POST', `/swarms/${swarm}/join`, { roles: [] })
      return true
    } catch {
      return undefined
    }
  }, 60_000, 100)
}

/** Creates the swarm on node 0 and joins every other running node, one at a time. */
export async function formSwarm (bed: ScaleTestbed, swarm: string, voters: number): Promise<{ voters: number, workers: number }> {
  const [first, ...others] = bed.running()
  if (first === undefined) throw new Error('no nodes')
  await api(first.process, 'POST', '/swarms', { name: swarm, topology: 'hierarchical', maxAgents: 64, voters })
  for (const node of others) await joinSwarm(node, swarm)
  await agreed(bed.running(), swarm, 60_000)
  const view = await viewOf(first, swarm)
  const seated = view?.members.filter((m) => m.voter).length ?? 0
  return { voters: seated, workers: (view?.members.length ?? 0) - seated }
}

export interface FailoverSample {
  /** Until the last survivor learned the new leader (from the survivors' event logs). */
  failoverMs: number
  /** Until the last surviving voter learned it (the election itself, without the spread to workers). */
  votersAgreeMs: number
  /** Until a round of API polls first found every survivor agreeing (the resolution of a poll round). */
  polledMs: number
  /** Survivors timed by the poll round instead, their event log not holding the change. */
  fromPolls: number
  termsUsed: number
}

interface LeaderChange { type: string, leader: string | null, term: number, at: number }

/**
 * When `node` first recorded `leader` as its swarm's leader in a term after `afterTerm`, by its own
 * clock (a leader re-elected in a later term is no change, so no event names that term).
 */
async function learnedAt (node: BedNode, swarm: string, leader: string, afterTerm: number): Promise<number | undefined> {
  const { events } = await api<{ events: LeaderChange[] }>(node.process, 'GET', `/swarms/${swarm}/events`)
  return events.find((event) => event.type === 'leader-changed' && event.leader === leader && event.term > afterTerm)?.at
}

/** Kills the leader `kills` times; after each, restarts the killed node and lets it rejoin. */
export async function failovers (bed: ScaleTestbed, swarm: string, kills: number, pollMs: number): Promise<FailoverSample[]> {
  const samples: FailoverSample[] = []
  for (let k = 0; k < kills; k++) {
    const { leader, term } = await agreed(bed.running(), swarm, 60_000)
    const victim = bed.running().find((node) => node.process.peerId === leader)
    if (victim === undefined) throw new Error(`leader ${leader} is not a running node of the bed`)
    const survivors = bed.running().filter((node) => node !== victim)
    const voterIds = new Set((await viewOf(survivors[0] as BedNode, swarm))?.members.filter((m) => m.voter).map((m) => m.peerId))
    const voters = survivors.filter((node) => voterIds.has(node.process.peerId))
    // A random phase of the heartbeat cycle, as a crash would have.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 50))
    const killedAt = performance.now()
    const killedAtWall = Date.now()
    victim.process.child.kill('SIGKILL')
    for (;;) {
      const views = await Promise.all(survivors.map(async (node) => viewOf(node, swarm)))
      const polledMs = performance.now() - killedAt
      const all = agreement(views)
      if (all !== undefined && all.leader !== leader && all.term > term) {
        const learned = await Promise.all(survivors.map(async (node) => learnedAt(node, swarm, all.leader, term)))
        // A node whose bounded event log no longer holds the change counts at the poll round's time.
        const after = (i: number): number => learned[i] === undefined ? polledMs : (learned[i] as number) - killedAtWall
        const voterIndexes = survivors.flatMap((node, i) => voters.includes(node) ? [i] : [])
        samples.push({
          failoverMs: Math.max(...survivors.map((_, i) => after(i))),
          votersAgreeMs: Math.max(...voterIndexes.map(after)),
          polledMs,
          fromPolls: learned.filter((at) => at === undefined).length,
          termsUsed: all.term - term
        })
        break
      }
      if (polledMs > 60_000) throw new Error(`no new leader agreed by all ${survivors.length} survivors 60 s after killing the leader`)
      await new Promise((resolve) => setTimeout(resolve, pollMs))
    }
    await bed.restart(victim)
  }
  return samples
}
