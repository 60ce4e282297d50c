export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

/** What must survive a restart: losing it could let a node vote twice in one term. */
export interface PersistentState {
  term: number
  votedFor: string | null
}

export const INITIAL_STATE: PersistentState = { term: 0, votedFor: null }

export function validatePersistentState (state: PersistentState): PersistentState {
  if (!Number.isSafeInteger(state.term) || state.term < 0) throw new RangeError('persisted term must be a non-negative integer')
  if (state.votedFor !== null && (typeof state.votedFor !== 'string' || state.votedFor.length === 0)) {
    throw new RangeError('persisted votedFor must be a member id or null')
  }
  return { term: state.term, votedFor: state.votedFor }
}
