import { homedir } from 'node:os'
import { join } from 'node:path'

/** Where a node keeps its key, memory and indexes unless --data or PEERFLOW_DATA says otherwise. */
export function defaultDataDir (): string {
  return join(homedir(), '.peerflow')
}
