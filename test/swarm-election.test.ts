import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from './helpers/cli.ts'
import {
  agreement, apiCall, pollFor, swarmEventsOf, swarmStatusOf, SwarmCluster, VoteWatcher,
  type ClusterMember, type SwarmEventView, type SwarmStatusView
} from './helpers/swarm-cluster.ts'

/**
 * Twice the default (Raft paper) timeouts: on this shared 2-core machine a burst of CLI processes
 * can stall every node's event loop for 100–500 ms, and a stall longer than the minimum timeout is
 * a genuine leader failure that would blur what these tests check. bench/election.ts measures the
 * default timing.
 */
const TEST_TIMING = { timeoutMinMs: 300, timeoutMaxMs: 600, heartbeatMs: 60 }
const cluster = new SwarmCluster(TEST_TIMING)
const votes = new VoteWatcher(() => cluster.members, 'quintet')
const FAILOVER_BOUND_MS = 3_000

async function cli (member: ClusterMember, args: string[]): Promise<CliResult> {
  return runCli([...args, '--api', member.api])
}

async function cliJson<T> (member: ClusterMember, args: string[]): Promise<T> {
  const result = await cli(member, [...args, '--json'])
  if (result.code !== 0) throw new Error(`peerflow ${args.join(' ')} exited with ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

/** `peerflow swarm join`, repeated while the node answers that an election is under way. */
async function cliJoinSwarm (member: ClusterMember, swarm: string, extra: string[] = []): Promise<SwarmStatusView> {
  return pollFor(`${member.peerId} to join ${swarm} through the CLI`, async () => {
    const result = await cli(member, ['swarm', 'join', swarm, '--json', ...extra])
    if (result.code === 0) return JSON.parse(result.stdout) as SwarmStatusView
    if (!/retry shortly/.test(result.stderr)) throw new Error(`peerflow swarm join ${swarm} exited with ${result.code}: ${result.stderr}`)
    return undefined
  }, 15_000, 100)
}

/** Every member's `peerflow swarm status --json`, all of them agreeing on one leader and term. */
async function cliAgreement (swarm: string, members: ClusterMember[]): Promise<{ leader: string, term: number, views: SwarmStatusView[] }> {
  const views = await Promise.all(members.map(async (member) => cliJson<SwarmStatusView>(member, ['swarm', 'status', swarm])))
  const agreed = agreement(views)
  if (agreed === undefined) throw new Error(`members disagree about ${swarm}: ${JSON.stringify(views.map((v) => [v.self, v.leader, v.term]))}`)
  return { ...agreed, views }
}

/**
 * Blocks or unblocks every pair across the two groups, on both sides, through the CLI. One command
 * at a time: a burst of CLI processes starves the nodes of CPU (see TEST_TIMING).
 */
async function setPartition (command: 'block' | 'unblock', groupA: ClusterMember[], groupB: ClusterMember[]): Promise<void> {
  for (const a of groupA) {
    for (const b of groupB) {
      for (const [self, other] of [[a, b], [b, a]]) {
        const result = await cli(self as ClusterMember, [command, (other as ClusterMember).peerId])
        expect(result.code, result.stderr).toBe(0)
      }
    }
  }
}

const running = (): ClusterMember[] => cluster.running()
const peerIds = (view: SwarmStatusView): string[] => view.members.map((member) => member.peerId)

describe('swarm election across node processes', () => {
  beforeAll(async () => {
    await cluster.grow(5)
    votes.start()
  }, 60_000)

  afterAll(async () => {
    await votes.stop()
    await cluster.cleanup()
  })

  it('three members elect exactly one leader that all of them agree on', async () => {
    const trio = cluster.members.slice(0, 3)
    const [creator, ...joiners] = trio as [ClusterMember, ...ClusterMember[]]
    const created = await cliJson<SwarmStatusView>(creator, ['swarm', 'init', 'trio', '--topology', 'hierarchical', '--role', 'coordinator'])
    expect(created).toMatchObject({ name: 'trio', topology: 'hierarchical', version: 1 })
    for (const joiner of joiners) {
      await pollFor('the definition of trio to replicate', async () => (await swarmStatusOf(joiner.api, 'trio')) ?? undefined)
      await cliJoinSwarm(joiner, 'trio', ['--role', 'coder'])
    }
    await cluster.waitForAgreement('trio', trio)

    const { leader, term, views } = await cliAgreement('trio', trio)
    expect(trio.map((m) => m.peerId)).toContain(leader)
    expect(term).toBeGreaterThanOrEqual(1)
    expect(views.filter((view) => view.self === 'leader')).toHaveLength(1)
    expect(views.filter((view) => view.self === 'follower')).toHaveLength(2)
    for (const view of views) expect(peerIds(view).sort()).toEqual(trio.map((m) => m.peerId).sort())
    // The other two processes know the swarm but hold no seat in it.
    const outsider = await cliJson<SwarmStatusView>(cluster.members[4] as ClusterMember, ['swarm', 'status', 'trio'])
    expect(outsider).toMatchObject({ self: 'observer', leader: null })
  })

  it('five members elect exactly one leader that all of them agree on', async () => {
    await cluster.formSwarm('quintet')
    const { leader, term, views } = await cliAgreement('quintet', running())
    expect(term).toBeGreaterThanOrEqual(1)
    expect(views.filter((view) => view.self === 'leader').map((view) => view.leader)).toEqual([leader])
    expect(views.every((view) => view.members.length === 5 && view.members.every((m) => m.voter))).toBe(true)
    const list = await cliJson<{ swarms: SwarmStatusView[] }>(cluster.members[0] as ClusterMember, ['swarm', 'list'])
    expect(list.swarms.map((swarm) => swarm.name)).toEqual(['quintet', 'trio'])
  })

  it('lists leader-changed and member-joined on /swarms/:name/events', async () => {
    const { leader, term } = await cluster.waitForAgreement('quintet')
    const logs = await Promise.all(running().map(async (member) => swarmEventsOf(member.api, 'quintet')))
    const joined = new Set(logs.flat().filter((event) => event.type === 'member-joined').map((event) => event.member))
    expect([...joined].sort()).toEqual(cluster.members.slice(1).map((m) => m.peerId).sort())
    for (const log of logs) {
      expect(log.every((event) => event.swarm === 'quintet')).toBe(true)
      expect(log).toContainEqual(expect.objectContaining({ type: 'leader-changed', leader, term }))
    }
    // `after` returns only what came later: nothing, while the leadership holds.
    const leaderApi = cluster.memberWithPeerId(leader).api
    const lastSeq = (await swarmEventsOf(leaderApi, 'quintet')).at(-1)?.seq ?? 0
    const later = await apiCall<{ events: SwarmEventView[] }>(leaderApi, 'GET', `/swarms/quintet/events?after=${lastSeq}`)
    expect(later.body.events.filter((event) => event.type === 'leader-changed' || event.type === 'member-joined')).toEqual([])
  })

  it('answers an unknown swarm with a non-zero exit and a message naming it', async () => {
    const member = cluster.members[1] as ClusterMember
    for (const args of [['swarm', 'status', 'no-such-swarm'], ['swarm', 'join', 'no-such-swarm'], ['swarm', 'leave', 'no-such-swarm']]) {
      const result = await cli(member, args)
      expect(result.code, args.join(' ')).not.toBe(0)
      expect(result.stderr).toMatch(/unknown swarm 'no-such-swarm' \(known: quintet, trio\)/)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stdout).toBe('')
    }
  })

  it('elects a new leader with a higher term soon after the leader is SIGKILLed', async () => {
    const before = await cluster.waitForAgreement('quintet')
    const leader = cluster.memberWithPeerId(before.leader)
    const survivors = running().filter((member) => member !== leader)
    const killedAt = performance.now()
    await cluster.kill(leader)
    const after = await pollFor('the survivors to agree on a new leader', async () => {
      const agreed = agreement(await cluster.statuses('quintet', survivors))
      return agreed !== undefined && agreed.leader !== before.leader ? agreed : undefined
    }, 10_000, 10)
    const failoverMs = performance.now() - killedAt
    console.log(`failover after SIGKILL of the leader: ${failoverMs.toFixed(0)} ms (term ${before.term} → ${after.term})`)
    expect(after.term).toBeGreaterThan(before.term)
    expect(survivors.map((m) => m.peerId)).toContain(after.leader)
    expect(failoverMs).toBeLessThan(FAILOVER_BOUND_MS)

    // The killed leader comes back as a follower of the new leader.
    await cluster.restart(leader)
    expect(await cluster.waitForAgreement('quintet')).toEqual(after)
    expect((await swarmStatusOf(leader.api, 'quintet'))?.self).toBe('follower')
  })

  it('a restarted member keeps its membership and its persisted term, and votes once per term', async () => {
    const { leader } = await cluster.waitForAgreement('quintet')
    const member = running().find((m) => m.peerId !== leader) as ClusterMember
    const persistedBefore = await member.persistedVote('quintet')
    expect(persistedBefore).not.toBeNull()

    await cluster.kill(member)
    await cluster.restart(member)
    const restartedAt = performance.now()
    const view = await pollFor('the restarted member to follow the leader', async () => {
      const status = await swarmStatusOf(member.api, 'quintet')
      return status?.self === 'follower' && status.leader === leader ? status : undefined
    })
    // The leader's heartbeats must reach the new process at once, not only once the connection the
    // killed one left behind times out (QUIC: 10 s idle).
    const rejoinMs = performance.now() - restartedAt
    console.log(`restarted member follows the leader ${rejoinMs.toFixed(0)} ms after reconnecting`)
    expect(rejoinMs).toBeLessThan(3_000)
    expect(peerIds(view)).toContain(member.peerId)
    expect(view.term).toBeGreaterThanOrEqual(persistedBefore?.term ?? Infinity)
    const listed = await cliJson<{ swarms: SwarmStatusView[] }>(member, ['swarm', 'list'])
    expect(listed.swarms.find((swarm) => swarm.name === 'quintet')?.self).toBe('follower')

    // An election it takes part in, right after its restart.
    const oldLeader = cluster.memberWithPeerId(leader)
    await cluster.kill(oldLeader)
    const survivors = running()
    const next = await pollFor('a new leader among the survivors', async () => {
      const agreed = agreement(await cluster.statuses('quintet', survivors))
      return agreed !== undefined && agreed.leader !== leader ? agreed : undefined
    })
    expect(next.term).toBeGreaterThan(view.term)
    await cluster.restart(oldLeader)
    await cluster.waitForAgreement('quintet')

    await votes.check()
    expect(votes.violations).toEqual([])
    const terms = (votes.history.get(member.dataDir) ?? []).map((state) => state.term)
    expect(terms.length).toBeGreaterThan(1)
    expect(terms).toEqual([...terms].sort((a, b) => a - b))
    const persistedAfter = await member.persistedVote('quintet')
    expect(persistedAfter?.term).toBeGreaterThanOrEqual(next.term)
  })

  it('a minority partition elects nobody, and its old leader steps down and rejoins without disruption', async () => {
    const before = await cluster.waitForAgreement('quintet')
    const oldLeader = cluster.memberWithPeerId(before.leader)
    const followers = running().filter((member) => member !== oldLeader)
    // The leader ends up in the minority, so CheckQuorum must make it step down. Its companion is cut
    // off first, so that the majority cannot elect it while the leader's links are still being cut.
    const minority = [followers[0] as ClusterMember, oldLeader]
    const majority = followers.slice(1)

    await setPartition('block', minority, majority)
    const majorityRule = await pollFor('the majority to elect a leader of its own', async () => {
      const agreed = agreement(await cluster.statuses('quintet', majority))
      return agreed !== undefined && majority.some((m) => m.peerId === agreed.leader) && agreed.term > before.term ? agreed : undefined
    })
    const minorityViews = await pollFor('the minority to have no leader', async () => {
      const views = await cluster.statuses('quintet', minority)
      return views.every((view) => view !== null && view.leader === null && view.self !== 'leader') ? views as SwarmStatusView[] : undefined
    })
    const minorityTerms = minorityViews.map((view) => view.term)
    expect(Math.max(...minorityTerms)).toBeLessThan(majorityRule.term)

    // For four maximum election timeouts: the minority elects nobody and, thanks to PreVote, does
    // not even raise its term; the majority's leadership holds.
    const watchUntil = Date.now() + 4 * cluster.timing.timeoutMaxMs
    while (Date.now() < watchUntil) {
      const [minorityNow, majorityNow] = await Promise.all([cluster.statuses('quintet', minority), cluster.statuses('quintet', majority)])
      expect(minorityNow.map((view) => view?.leader)).toEqual([null, null])
      expect(minorityNow.map((view) => view?.term)).toEqual(minorityTerms)
      expect(agreement(majorityNow)).toEqual(majorityRule)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }

    // Heal: unblock on both sides and join again.
    await setPartition('unblock', minority, majority)
    for (const member of minority) {
      for (const other of majority) {
        const joined = await cli(member, ['join', other.quicAddr])
        expect(joined.code, joined.stderr).toBe(0)
      }
    }
    const healed = await pollFor('all five to agree again', async () => {
      const [all, majorityNow] = await Promise.all([cluster.statuses('quintet'), cluster.statuses('quintet', majority)])
      // The majority's leader and term must never change while the minority comes back.
      expect(agreement(majorityNow)).toEqual(majorityRule)
      return agreement(all)
    }, 15_000, 20)
    expect(healed).toEqual(majorityRule)
    expect((await swarmStatusOf(oldLeader.api, 'quintet'))?.self).toBe('follower')
    const { views } = await cliAgreement('quintet', running())
    expect(views.filter((view) => view.self === 'leader')).toHaveLength(1)
  })

  it('joins and leaves through the leader', async () => {
    const { leader, term } = await cluster.waitForAgreement('quintet')
    const member = running().find((m) => m.peerId !== leader) as ClusterMember
    const leaderApi = cluster.memberWithPeerId(leader).api

    const left = await cliJson<SwarmStatusView>(member, ['swarm', 'leave', 'quintet'])
    expect(left.self).toBe('observer')
    expect(peerIds(left)).not.toContain(member.peerId)
    // The leader applied the change and every remaining member sees it, under the same leader.
    expect(await swarmEventsOf(leaderApi, 'quintet')).toContainEqual(expect.objectContaining({ type: 'member-left', member: member.peerId }))
    const remaining = running().filter((m) => m !== member)
    await pollFor('the remaining members to see four members', async () => {
      const views = await cluster.statuses('quintet', remaining)
      return views.every((view) => view?.members.length === 4) ? true : undefined
    })
    expect(await cluster.waitForAgreement('quintet', remaining)).toEqual({ leader, term })
    const leaveAgain = await cli(member, ['swarm', 'leave', 'quintet'])
    expect(leaveAgain.code).not.toBe(0)
    expect(leaveAgain.stderr).toMatch(/not a member of swarm 'quintet'/)

    const joined = await cliJoinSwarm(member, 'quintet', ['--role', 'reviewer'])
    expect(joined.members.find((m) => m.peerId === member.peerId)?.roles).toEqual(['reviewer'])
    expect(await swarmEventsOf(leaderApi, 'quintet')).toContainEqual(expect.objectContaining({ type: 'member-joined', member: member.peerId }))
    await pollFor('the rejoined member to follow the leader', async () => {
      const status = await swarmStatusOf(member.api, 'quintet')
      return status?.self === 'follower' && status.leader === leader ? true : undefined
    })
    expect(await cluster.waitForAgreement('quintet')).toEqual({ leader, term })
  })

  it('no member ever lowered its persisted term or changed its vote within a term', async () => {
    await votes.check()
    expect(votes.violations).toEqual([])
    for (const member of cluster.members) expect(votes.history.get(member.dataDir)?.length ?? 0).toBeGreaterThan(0)
  })
})
