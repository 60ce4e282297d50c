import { api, waitFor } from '../../test/helpers/netns.ts'
import type { BedNode, ScaleTestbed } from './scale-testbed.ts'

/**
 * Leader failover in one swarm of every node of the bed: the first `voters` members to join vote,
 * the rest follow as non-voting workers. Each round kills the leader (SIGKILL) and times until
 * every survivor, voter or worker, names the same new leader.
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
  failoverMs: number
  /** Until the surviving voters agree (the election itself, without the spread to workers). */
  votersAgreeMs: number
  termsUsed: number
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
    victim.process.child.kill('SIGKILL')
    let votersAgreeMs: number | undefined
    for (;;) {
      const views = await Promise.all(survivors.map(async (node) => viewOf(node, swarm)))
      const now = performance.now() - killedAt
      const voterViews = views.filter((_, i) => voters.includes(survivors[i] as BedNode))
      const voterAgreement = agreement(voterViews)
      if (votersAgreeMs === undefined && voterAgreement !== undefined && voterAgreement.leader !== leader && voterAgreement.term > term) votersAgreeMs = now
      const all = agreement(views)
      if (all !== undefined && all.leader !== leader && all.term > term) {
        samples.push({ failoverMs: now, votersAgreeMs: votersAgreeMs ?? now, termsUsed: all.term - term })
        break
      }
      if (now > 60_000) throw new Error(`no new leader agreed by all ${survivors.length} survivors 60 s after killing the leader`)
      await new Promise((resolve) => setTimeout(resolve, pollMs))
    }
    await bed.restart(victim)
  }
  return samples
}
