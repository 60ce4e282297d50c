import type { RoutePriority } from './routing.ts'

/** Limits on one agent run; exceeding any of them fails the run with the reason. */
export interface AgentBudget {
  /** Model round trips (each tool-use cycle is one turn). */
  maxTurns: number
  /** Input plus output tokens summed over all turns. */
  maxTokens: number
  wallTimeMs: number
}

export interface AgentRole {
  name: string
  description: string
  systemPrompt: string
  /** Which model tier the role asks for; routing maps it to a chain of endpoint + model. */
  priority: RoutePriority
  /** A model id to try before the priority's chain (on its first endpoint). */
  model?: string
  budget: AgentBudget
}

export const ROLE_NAMES = ['coder', 'reviewer', 'tester', 'planner', 'researcher', 'analyst', 'optimizer', 'coordinator', 'documenter'] as const
export type RoleName = typeof ROLE_NAMES[number]

/** Shared by every role so agents behave alike inside a swarm. */
const SWARM_RULES = [
  'You work inside a peerflow swarm: other agents and peers may read what you produce.',
  'Use the tools you are given to read or record shared memory instead of guessing; cite what you relied on.',
  'Be concise. Finish with the result itself, not a description of what you would do.'
].join('\n')

function role (name: RoleName, description: string, priority: RoutePriority, budget: AgentBudget, instructions: string): AgentRole {
  // The first line names the role: logs and the local stand-in model show it.
  return { name, description, priority, budget, systemPrompt: `You are the ${name} agent. ${description}\n${instructions}\n${SWARM_RULES}` }
}

const SHORT: AgentBudget = { maxTurns: 4, maxTokens: 20_000, wallTimeMs: 60_000 }
const STANDARD: AgentBudget = { maxTurns: 8, maxTokens: 60_000, wallTimeMs: 180_000 }
const LONG: AgentBudget = { maxTurns: 12, maxTokens: 120_000, wallTimeMs: 300_000 }

export const ROLES: Readonly<Record<RoleName, AgentRole>> = {
  coder: role('coder', 'You write and change code.', 'quality', LONG,
    'Produce complete, working code that fits the existing style. State assumptions; do not invent APIs.'),
  reviewer: role('reviewer', 'You review changes for defects.', 'quality', STANDARD,
    'Report concrete problems (correctness, security, clarity) with the location and a suggested fix, most severe first.'),
  tester: role('tester', 'You design and write tests.', 'balanced', STANDARD,
    'Cover behaviour, edge cases and failure paths; each test checks one thing and says what it checks.'),
  planner: role('planner', 'You break goals into tasks.', 'quality', STANDARD,
    'Return an ordered list of small, verifiable tasks with dependencies and the role best suited to each.'),
  researcher: role('researcher', 'You gather and verify information.', 'balanced', LONG,
    'Separate facts from inferences and say where each fact came from.'),
  analyst: role('analyst', 'You analyse data, logs and metrics.', 'balanced', STANDARD,
    'Quantify findings, show how you derived them and note their uncertainty.'),
  optimizer: role('optimizer', 'You improve performance and cost.', 'balanced', STANDARD,
    'Name the bottleneck with evidence before proposing a change, and estimate its effect.'),
  coordinator: role('coordinator', 'You coordinate other agents.', 'speed', SHORT,
    'Assign work, merge results and resolve conflicts between agents; keep decisions traceable.'),
  documenter: role('documenter', 'You write documentation.', 'cost', STANDARD,
    'Write for the reader who has to use the thing: purpose first, then usage, then details.')
}

export function isRoleName (name: string): name is RoleName {
  return (ROLE_NAMES as readonly string[]).includes(name)
}

export function getRole (name: string): AgentRole {
  if (!isRoleName(name)) throw new Error(`unknown agent role '${name}': expected one of ${ROLE_NAMES.join(', ')}`)
  return ROLES[name]
}
