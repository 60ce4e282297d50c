import { minimatch } from 'minimatch'
import type { AgentTool } from './tools.ts'

/**
 * Which of the node's optional tools (MCP servers' and the workspace's) a role may call: those whose
 * name matches one of the role's glob patterns. No pattern, no tool: nothing is exposed by accident.
 */

export function toolAllowed (name: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => minimatch(name, pattern, { nocomment: true, nonegate: true }))
}

export function toolsAllowed (tools: readonly AgentTool[], patterns: readonly string[]): AgentTool[] {
  return tools.filter((tool) => toolAllowed(tool.name, patterns))
}

/** The roles (of those named) whose patterns admit `name`. */
export function rolesAllowed (name: string, patternsByRole: Readonly<Record<string, readonly string[]>>): string[] {
  return Object.entries(patternsByRole).filter(([, patterns]) => toolAllowed(name, patterns)).map(([role]) => role).sort()
}
