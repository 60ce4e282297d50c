import type { RaftMessage } from './messages.ts'
import type { PersistentState, Role } from './state.ts'

export interface Envelope {
  to: string
  message: RaftMessage
}

export type ElectionEvent =
  | { type: 'leader-changed', leader: string | null, term: number }
  | { type: 'role-changed', role: Role, term: number }
  | { type: 'term-changed', term: number }
  | { type: 'members-changed', members: string[] }

/**
 * What one call into the election asks the driver to do, in this order:
 * write `persist` durably (when present), then send `messages`, then act on `events`.
 */
export interface Output {
  messages: Envelope[]
  persist?: PersistentState
  events: ElectionEvent[]
}
