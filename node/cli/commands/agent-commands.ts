import type { Command } from 'commander'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import { CliError } from '../client.ts'
import { parseDuration } from '../duration.ts'
import { formatDuration, printJson, printTable } from '../output.ts'
import { formatTokens } from './task-commands.ts'
import type { RoleFileProblem, RoleListing, SlotInfo } from '../../api/types.ts'

const TOKEN_UNITS: Record<string, number> = { '': 1, k: 1_000, m: 1_000_000 }

/** '2M', '500k' or '20000' tokens; anything else is a usage error. */
export function parseTokens (text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim())
  const value = match === null ? Number.NaN : Math.round(Number(match[1]) * (TOKEN_UNITS[(match[2] as string).toLowerCase()] as number))
  if (!Number.isInteger(value) || value < 1) throw new CliError(`${option}: expected a token count like 20000, 500k or 2M, got '${text}'`, 2)
  return value
}

function printSlots (slots: SlotInfo[]): void {
  if (slots.length === 0) return
  process.stdout.write(`\n${slots.length} ephemeral agent${slots.length === 1 ? '' : 's'}:\n`)
  printTable(slots, [
    { header: 'id', value: (row) => row.id },
    { header: 'role', value: (row) => row.role },
    { header: 'swarm', value: (row) => row.swarm },
    { header: 'time left', value: (row) => formatDuration(row.leftMs) },
    { header: 'tokens', value: (row) => `${formatTokens(row.usedTokens)}/${formatTokens(row.maxTokens)}` },
    { header: 'task', value: (row) => row.task ?? 'idle' }
  ], '')
}

/** `peerflow agent …`: the agents a node runs for swarm tasks. */
export function registerAgentCommands (program: Command): void {
  const agent = program.command('agent').description('agents this node runs for swarm tasks')

  withApi(agent.command('list').description('running and waiting agents, then the latest finished: role, model, state, task, tokens; ephemeral agents with their time left'))
    .action(async (options: ReadOptions) => {
      const reply = await clientFor(options).agents.list()
      if (options.json === true) return printJson(reply)
      const active = reply.agents.filter((row) => row.state === 'running' || row.state === 'waiting').length
      process.stdout.write(`${active} active of ${reply.maxConcurrent + reply.slots.length} slots\n`)
      printTable(reply.agents, [
        { header: 'role', value: (row) => row.role },
        { header: 'model', value: (row) => row.model ?? '-' },
        { header: 'state', value: (row) => row.state },
        { header: 'task', value: (row) => `${row.task} (${row.attempt})` },
        { header: 'swarm', value: (row) => row.swarm },
        { header: 'turn', value: (row) => row.maxTurns === 0 ? '-' : `${row.turn}/${row.maxTurns}` },
        { header: 'tokens', value: (row) => formatTokens(row.tokens) },
        { header: 'time', value: (row) => row.startedAt === null ? `waiting ${formatDuration(Date.now() - row.acceptedAt)}` : formatDuration((row.finishedAt ?? Date.now()) - row.startedAt) },
        { header: 'error', value: (row) => row.error ?? '' }
      ], 'no agents on this node yet')
      printSlots(reply.slots)
    })

  withApi(agent.command('spawn').description('run an ephemeral agent here: it takes tasks of its role in the swarm until its TTL or token budget runs out'))
    .requiredOption('--role <role>', 'the role it takes tasks of')
    .requiredOption('--swarm <name>', 'the swarm it works for (this node must be a member)')
    .requiredOption('--ttl <duration>', 'how long it lives, e.g. 30m, 4h')
    .option('--max-tokens <n>', 'its token budget over every task it runs, e.g. 500k, 2M', '2M')
    .action(async (options: ReadOptions & { role: string, swarm: string, ttl: string, maxTokens: string }) => {
      const body = { role: options.role, swarm: options.swarm, ttlMs: parseDuration(options.ttl, '--ttl'), maxTokens: parseTokens(options.maxTokens, '--max-tokens') }
      const slot = await clientFor(options).agents.spawn(body)
      if (options.json === true) return printJson(slot)
      process.stdout.write(`spawned ${slot.id}: ${slot.role} for swarm ${slot.swarm}, ${formatDuration(slot.leftMs)}, ${formatTokens(slot.maxTokens)} tokens\n`)
    })

  withApi(agent.command('roles').description('every role this node can run (built-in, role files in <data>/agents/, shared by members) and where each came from'))
    .action(async (options: ReadOptions) => {
      const reply = await clientFor(options).agents.roles()
      if (options.json === true) return printJson(reply)
      printTable(reply.roles, [
        { header: 'role', value: (row) => row.name },
        { header: 'source', value: (row) => row.source },
        { header: 'priority', value: (row) => row.model ?? row.priority },
        { header: 'tools', value: (row) => row.tools.join(',') || '-' },
        { header: 'from', value: (row) => row.from ?? '-' },
        { header: 'description', value: (row) => row.description.length > 60 ? `${row.description.slice(0, 59)}…` : row.description }
      ], 'no roles')
      for (const problem of reply.problems) process.stderr.write(`${problem.path}:${problem.line}: ${problem.message}\n`)
    })

  withApi(agent.command('share').argument('<role>').description("share one of this node's role files with every member, through replicated memory (prompt, priority and budget; never tool rights)"))
    .action(async (role: string, options: ReadOptions) => {
      const shared = await clientFor(options).agents.shareRole(role)
      if (options.json === true) return printJson(shared)
      process.stdout.write(`shared role ${shared.name} from ${shared.from ?? '?'}\n`)
    })
}
