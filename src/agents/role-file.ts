import { parse, YAMLError } from 'yaml'
import { z } from 'zod'
import { ROLE_NAMES, type AgentBudget, type AgentRole } from './roles.ts'
import { ROUTE_PRIORITIES, type RoutePriority } from './route-table.ts'

/**
 * Roles users write: Markdown with YAML frontmatter, the format Claude Code uses for subagents.
 *
 *   ---
 *   name: security-reviewer
 *   description: Reviews changes for injection and auth flaws
 *   tools: fs__read_text_file, workspace__*
 *   priority: quality          # or model: opus | sonnet | haiku | <model id>
 *   budget: { maxTurns: 6, maxTokens: 40000, wallTimeMs: 120000 }
 *   ---
 *   You review ... (the system prompt)
 */

export const USER_ROLE_NAME = /^[a-z][a-z0-9-]{0,63}$/
const MAX_PROMPT_CHARS = 32_000
const DEFAULT_BUDGET: AgentBudget = { maxTurns: 8, maxTokens: 60_000, wallTimeMs: 180_000 }
/** Claude Code's model aliases, as the priorities they stand for. */
const MODEL_ALIASES: Readonly<Record<string, RoutePriority>> = { opus: 'quality', sonnet: 'balanced', haiku: 'cost', inherit: 'balanced' }

export class RoleFileError extends Error {
  override name = 'RoleFileError'
  readonly line: number
  constructor (line: number, message: string) {
    super(`line ${line}: ${message}`)
    this.line = line
  }
}

/** A user role: a role like the built-in ones, plus the tool patterns its file names. */
export interface UserRole extends AgentRole {
  tools: string[]
}

const Frontmatter = z.object({
  name: z.string().regex(USER_ROLE_NAME, 'use lowercase letters, digits and -, starting with a letter').refine((name) => !(ROLE_NAMES as readonly string[]).includes(name), { message: 'is a built-in role' }),
  description: z.string().min(1).max(500),
  tools: z.union([z.string(), z.array(z.string())]).optional(),
  model: z.string().min(1).max(128).optional(),
  priority: z.enum(ROUTE_PRIORITIES).optional(),
  budget: z.object({
    maxTurns: z.number().int().min(1).max(100).optional(),
    maxTokens: z.number().int().min(1).max(10_000_000).optional(),
    wallTimeMs: z.number().int().min(100).max(24 * 3_600_000).optional()
  }).strict().optional()
}).passthrough()

/** The line (1-based, in the whole file) where a frontmatter key starts, for error messages. */
function lineOfKey (frontmatter: string, key: string | undefined, offset: number): number {
  if (key === undefined) return offset
  const index = frontmatter.split('\n').findIndex((line) => line.startsWith(`${key}:`))
  return index === -1 ? offset : offset + index
}

export function parseRoleFile (text: string): UserRole {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  if (lines[0]?.trim() !== '---') throw new RoleFileError(1, "expected YAML frontmatter starting with '---'")
  const end = lines.findIndex((line, i) => i > 0 && line.trim() === '---')
  if (end === -1) throw new RoleFileError(1, "the frontmatter has no closing '---'")
  const frontmatter = lines.slice(1, end).join('\n')
  let data: unknown
  try {
    data = parse(frontmatter)
  } catch (err) {
    const line = err instanceof YAMLError ? (err.linePos?.[0].line ?? 1) + 1 : 2
    // The parser counts lines from the frontmatter's start: its own position would mislead.
    const message = ((err as Error).message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')
    throw new RoleFileError(line, `invalid YAML: ${message}`)
  }
  const parsed = Frontmatter.safeParse(data ?? {})
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const key = issue?.path[0]
    throw new RoleFileError(lineOfKey(frontmatter, typeof key === 'string' ? key : undefined, 2), `${issue?.path.map(String).join('.') || 'frontmatter'}: ${issue?.message ?? 'rejected'}`)
  }
  const { name, description, tools, model, priority, budget } = parsed.data
  if (model !== undefined && priority !== undefined) throw new RoleFileError(lineOfKey(frontmatter, 'model', 2), 'give either model or priority, not both')
  const prompt = lines.slice(end + 1).join('\n').trim()
  if (prompt === '') throw new RoleFileError(end + 2, 'the system prompt (the Markdown after the frontmatter) is empty')
  if (prompt.length > MAX_PROMPT_CHARS) throw new RoleFileError(end + 2, `the system prompt is longer than ${MAX_PROMPT_CHARS} characters`)
  const alias = model === undefined ? undefined : MODEL_ALIASES[model]
  return {
    name,
    description,
    systemPrompt: `You are the ${name} agent. ${description}\n${prompt}`,
    priority: priority ?? alias ?? 'balanced',
    ...(model !== undefined && alias === undefined ? { model } : {}),
    budget: { ...DEFAULT_BUDGET, ...budget },
    tools: (typeof tools === 'string' ? tools.split(',') : tools ?? []).map((tool) => tool.trim()).filter(Boolean)
  }
}
