import type { Command } from 'commander'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import { formatDuration, printJson, printTable } from '../output.ts'
import { formatTokens } from './task-commands.ts'
import type { RoleFileProblem, RoleListing } from '../../api/types.ts'

/** `peerflow agent …`: the agents a node runs for swarm tasks. */
export function registerAgentCommands (program: Command): void {
  const agent = program.command('agent').description('agents this node runs for swarm tasks')

  withApi(agent.command('list').description('running and waiting agents, then the latest finished: role, model, state, task, tokens'))
    .action(async (options: ReadOptions) => {
      const reply = await clientFor(options).agents.list()
      if (options.json === true) return printJson(reply)
      const active = reply.agents.filter((row) => row.state === 'running' || row.state === 'waiting').length
      process.stdout.write(`${active} active of ${reply.maxConcurrent} slots\n`)
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
