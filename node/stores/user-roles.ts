import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PeerflowError, type MemoryStore } from '../../crdt/index.ts'
import { parseRoleFile, RoleFileError, ROLES, type AgentRole, type UserRole } from '../../src/agents/index.ts'

/**
 * Roles beyond the nine built-in ones: Markdown files in `<data>/agents/` (this node's own), and
 * roles members shared through the replicated `agent-roles` namespace so every member can run
 * them. A file that does not parse is reported with its path and line; the others still load. A
 * shared role brings its prompt, priority and budget, never tool rights: which tools a role gets
 * on a node is that node's owner's call (its own files and `agents.<role>.tools`).
 */

export const AGENT_ROLES_NAMESPACE = 'agent-roles'
const MAX_ROLE_FILE_BYTES = 64 * 1024

export type RoleSource = 'built-in' | 'file' | 'shared'

export interface RoleListing {
  name: string
  description: string
  priority: string
  model: string | null
  tools: string[]
  source: RoleSource
  /** The file, for `file`; the sharing peer, for `shared`. */
  from: string | null
}

export interface RoleFileProblem {
  path: string
  line: number
  message: string
}

interface SharedRole {
  text: string
  sharedAt: number
}

export class UserRoles {
  readonly #dir: string
  readonly #memory: MemoryStore
  readonly #self: string
  #files = new Map<string, { role: UserRole, path: string, text: string }>()
  #problems: RoleFileProblem[] = []

  constructor (dataDir: string, memory: MemoryStore, self: string) {
    this.#dir = join(dataDir, 'agents')
    this.#memory = memory
    this.#self = self
  }

  /** Reads `<data>/agents/*.md` again. */
  async reload (): Promise<void> {
    const files = new Map<string, { role: UserRole, path: string, text: string }>()
    const problems: RoleFileProblem[] = []
    const names = await readdir(this.#dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return []
      throw err
    })
    for (const name of names.filter((entry) => entry.endsWith('.md')).sort()) {
      const path = join(this.#dir, name)
      try {
        const text = await readFile(path, 'utf8')
        if (Buffer.byteLength(text) > MAX_ROLE_FILE_BYTES) throw new RoleFileError(1, `larger than ${MAX_ROLE_FILE_BYTES} bytes`)
        const role = parseRoleFile(text)
        const earlier = files.get(role.name)
        if (earlier !== undefined) throw new RoleFileError(2, `role '${role.name}' is already defined in ${earlier.path}`)
        files.set(role.name, { role, path, text })
      } catch (err) {
        problems.push({ path, line: err instanceof RoleFileError ? err.line : 1, message: err instanceof RoleFileError ? err.message.replace(/^line \d+: /, '') : (err as Error).message })
      }
    }
    this.#files = files
    this.#problems = problems
  }

  problems (): RoleFileProblem[] {
    return [...this.#problems]
  }

  /** A role by name: built-in, this node's file, or shared by a member; undefined when none. */
  get (name: string): AgentRole | undefined {
    if (Object.hasOwn(ROLES, name)) return ROLES[name as keyof typeof ROLES]
    return this.#files.get(name)?.role ?? this.#shared(name)?.role
  }

  /** Tool patterns that this node's own role files grant. */
  filePatterns (): Record<string, string[]> {
    return Object.fromEntries([...this.#files.values()].map(({ role }) => [role.name, role.tools]))
  }

  list (): RoleListing[] {
    const listing = (role: AgentRole, source: RoleSource, from: string | null, tools: string[]): RoleListing => ({
      name: role.name, description: role.description, priority: role.priority, model: role.model ?? null, tools, source, from
    })
    const rows = Object.values(ROLES).map((role) => listing(role, 'built-in', null, []))
    for (const { role, path } of this.#files.values()) rows.push(listing(role, 'file', path, role.tools))
    for (const entry of this.#memory.list(AGENT_ROLES_NAMESPACE)) {
      if (this.#files.has(entry.key)) continue
      const shared = this.#shared(entry.key)
      if (shared !== undefined) rows.push(listing(shared.role, 'shared', shared.by, []))
    }
    return rows
  }

  /** Puts this node's role file in replicated memory, for every member to run. */
  async share (name: string): Promise<RoleListing> {
    const file = this.#files.get(name)
    if (file === undefined) throw new PeerflowError('not-found', `no role file defines '${name}' in ${this.#dir}${this.#problems.length > 0 ? ` (${this.#problems.length} files did not load: see peerflow agent roles)` : ''}`)
    const value: SharedRole = { text: file.text, sharedAt: Date.now() }
    await this.#memory.put(AGENT_ROLES_NAMESPACE, name, { ...value }, { author: this.#self })
    return { name, description: file.role.description, priority: file.role.priority, model: file.role.model ?? null, tools: file.role.tools, source: 'file', from: file.path }
  }

  #shared (name: string): { role: AgentRole, by: string } | undefined {
    const entry = this.#memory.get(AGENT_ROLES_NAMESPACE, name)
    const text = (entry?.value as Partial<SharedRole> | undefined)?.text
    if (entry === undefined || typeof text !== 'string' || text.length > MAX_ROLE_FILE_BYTES) return undefined
    try {
      const { tools: _tools, ...role } = parseRoleFile(text)
      return role.name === name ? { role, by: entry.author } : undefined
    } catch {
      return undefined
    }
  }
}
