import type { Command } from 'commander'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import { CliError } from '../client.ts'
import { formatDuration, printJson, printTable, shortPeerId } from '../output.ts'
import type { SwarmStatus, Topology } from '../../api/types.ts'

function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

function printStatus (status: SwarmStatus): void {
  process.stdout.write(`Swarm: ${status.name}   Topology: ${status.topology}   Term: ${status.term}   ` +
    `Leader: ${status.leader === null ? '(none)' : shortPeerId(status.leader)}   Members: ${status.healthy}/${status.members.length} healthy\n`)
  printTable(status.members, [
    { header: 'member', value: (member) => shortPeerId(member.peerId) + (member.peerId === status.leader ? ' *' : '') },
    { header: 'role', value: (member) => member.roles.join(',') || '-' },
    { header: 'state', value: (member) => member.state + (member.voter ? '' : ' (non-voting)') },
    { header: 'last heartbeat', value: (member) => member.lastHeartbeatMs === null ? '-' : `${formatDuration(member.lastHeartbeatMs)} ago` },
    { header: 'agents', value: (member) => String(member.agents) }
  ], 'no members')
}

/** `peerflow swarm …`: swarms and their elected coordinators. */
export function registerSwarmCommands (program: Command): void {
  const swarm = program.command('swarm').description('agent swarms: members, topology and the elected coordinator')

  withApi(swarm.command('init').argument('<name>').description('create a swarm with this node as its first member'))
    .option('--topology <topology>', 'hierarchical | mesh | ring | adaptive', 'hierarchical')
    .option('--max-agents <n>', 'most agents the swarm runs at once', '8')
    .option('--voters <n>', 'how many of the first members vote in elections (1-7, default 7); later joiners are non-voting workers')
    .option('--role <role>', 'agent role this node offers, repeatable', collect)
    .action(async (name: string, options: ReadOptions & { topology: string, maxAgents: string, voters?: string, role?: string[] }) => {
      const maxAgents = Number(options.maxAgents)
      if (!Number.isInteger(maxAgents)) throw new CliError(`--max-agents: expected an integer, got '${options.maxAgents}'`, 2)
      const voters = options.voters === undefined ? undefined : Number(options.voters)
      if (voters !== undefined && !Number.isInteger(voters)) throw new CliError(`--voters: expected an integer, got '${options.voters}'`, 2)
      const status = await clientFor(options).swarms.init({ name, topology: options.topology as Topology, maxAgents, roles: options.role ?? [], ...(voters === undefined ? {} : { voters }) })
      if (options.json === true) return printJson(status)
      process.stdout.write(`created swarm ${name} (${status.topology}); other nodes join with: peerflow swarm join ${name}\n`)
    })

  withApi(swarm.command('join').argument('<name>').description("ask the swarm's leader to add this node"))
    .option('--role <role>', 'agent role this node offers, repeatable', collect)
    .action(async (name: string, options: ReadOptions & { role?: string[] }) => {
      const status = await clientFor(options).swarms.join(name, options.role ?? [])
      if (options.json === true) return printJson(status)
      process.stdout.write(`joined swarm ${name}: ${status.members.length} members, leader ${status.leader === null ? '(electing)' : shortPeerId(status.leader)}\n`)
    })

  withApi(swarm.command('leave').argument('<name>').description('leave a swarm (through its leader)'))
    .action(async (name: string, options: ReadOptions) => {
      const status = await clientFor(options).swarms.leave(name)
      if (options.json === true) return printJson(status)
      process.stdout.write(`left swarm ${name}\n`)
    })

  withApi(swarm.command('status').argument('<name>').description('topology, term, leader and every member with its state'))
    .action(async (name: string, options: ReadOptions) => {
      const status = await clientFor(options).swarms.status(name)
      if (options.json === true) return printJson(status)
      printStatus(status)
    })

  withApi(swarm.command('list').description('every swarm this node knows'))
    .action(async (options: ReadOptions) => {
      const reply = { swarms: await clientFor(options).swarms.list() }
      if (options.json === true) return printJson(reply)
      printTable(reply.swarms, [
        { header: 'swarm', value: (s) => s.name },
        { header: 'topology', value: (s) => s.topology },
        { header: 'term', value: (s) => String(s.term) },
        { header: 'leader', value: (s) => s.leader === null ? '-' : shortPeerId(s.leader) },
        { header: 'members', value: (s) => `${s.healthy}/${s.members.length}` },
        { header: 'this node', value: (s) => s.self }
      ], 'no swarms')
    })
}
