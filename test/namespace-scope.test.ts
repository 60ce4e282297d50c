import { describe, expect, it } from 'vitest'
import { isNamespaceName, swarmNamespace, swarmOfNamespace } from '../crdt/index.ts'
import { planSend, refusalFor } from '../protocols/namespace-scope.ts'
import { SyncSession } from '../protocols/sync-session.ts'
import { decodeSyncMessage, encodeSyncMessage } from '../protocols/sync.ts'
import { SWARM_NAME } from '../protocols/swarm.ts'

const members = new Map([['review', ['peer-a', 'peer-b']]])
const membersOf = (swarm: string): readonly string[] | undefined => members.get(swarm)

describe('namespace scope', () => {
  it('names a swarm\'s namespace after the swarm, and reads the swarm back from it', () => {
    expect(swarmNamespace('review')).toBe('swarm.review')
    expect(swarmOfNamespace('swarm.review')).toBe('review')
    expect(swarmOfNamespace('swarm.review.notes')).toBe('review')
    for (const networkWide of ['shared-knowledge', 'swarm-state', 'swarms', 'tasks', 'swarm.', 'swarmy.review']) {
      expect(swarmOfNamespace(networkWide)).toBeUndefined()
    }
    // The longest swarm name still gives a valid namespace name.
    const longest = 'a'.repeat(48)
    expect(SWARM_NAME.test(longest)).toBe(true)
    expect(isNamespaceName(swarmNamespace(longest))).toBe(true)
  })

  it('lets members hold a swarm\'s namespace and everybody hold a network-wide one', () => {
    expect(refusalFor('shared-knowledge', 'stranger', membersOf)).toBeUndefined()
    expect(refusalFor('swarm.review', 'peer-b', membersOf)).toBeUndefined()
    expect(refusalFor('swarm.review', 'stranger', membersOf)).toContain("only to members of swarm 'review'")
    expect(refusalFor('swarm.other', 'peer-a', membersOf)).toContain('no definition')
  })

  it('sends network-wide namespaces unasked, scoped ones only when asked by a member, and refuses the rest', () => {
    const ours = ['shared-knowledge', 'swarm.review', 'swarm.ops', 'notes']
    const mayHold = (namespace: string): string | undefined => namespace === 'swarm.ops' ? 'not a member' : undefined
    expect(planSend(ours, ['swarm.review', 'swarm.ops', 'swarm.unknown'], mayHold)).toEqual({
      send: ['shared-knowledge', 'swarm.review', 'notes'],
      refused: [{ namespace: 'swarm.ops', reason: 'not a member' }]
    })
    expect(planSend(ours, [], mayHold).send).toEqual(['shared-knowledge', 'notes'])
  })

  it('carries a refusal in a sync frame, which a session reports without failing the exchange', () => {
    const frame = encodeSyncMessage({ type: 'refused', namespace: 'swarm.ops', reason: 'not a member' })
    expect(decodeSyncMessage(frame)).toEqual({ type: 'refused', namespace: 'swarm.ops', reason: 'not a member' })
    expect(() => decodeSyncMessage(Uint8Array.of(4, 3, 0x41, 0x2f, 0x2e, 0))).toThrow(/invalid namespace/)

    const session = new SyncSession({ initiator: true, ours: new Map([['swarm.ops', Uint8Array.of(0)]]) })
    session.handle({ type: 'open' })
    session.handle({ type: 'received', message: { type: 'hello', stateVectors: new Map() } })
    expect(session.handle({ type: 'received', message: { type: 'refused', namespace: 'swarm.ops', reason: 'not a member' } }))
      .toEqual([{ type: 'refused', namespace: 'swarm.ops', reason: 'not a member' }])
    session.handle({ type: 'sent-all' })
    expect(session.handle({ type: 'received', message: { type: 'done' } })).toEqual([{ type: 'complete', namespaces: ['swarm.ops'] }])
  })
})
