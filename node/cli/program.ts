import { Command, CommanderError } from 'commander'
import { CliError } from './client.ts'
import { registerAgentCommands } from './commands/agent-commands.ts'
import { registerBudgetCommands } from './commands/budget-commands.ts'
import { registerMemoryCommands } from './commands/memory-commands.ts'
import { registerNodeCommands } from './commands/node-commands.ts'
import { registerPatternCommands } from './commands/pattern-commands.ts'
import { registerSwarmCommands } from './commands/swarm-commands.ts'
import { registerTaskCommands } from './commands/task-commands.ts'

/** Registers the commands that need the node's own modules (`start`, `network init`), supplied by node/. */
export type RegisterStart = (program: Command) => void

export function buildProgram (version: string, registerStart: RegisterStart): Command {
  const program = new Command('peerflow')
    .description('a peer-to-peer federated agent node')
    .version(version)
    .showHelpAfterError()
    .exitOverride()
  registerStart(program)
  registerNodeCommands(program)
  registerMemoryCommands(program)
  registerSwarmCommands(program)
  registerPatternCommands(program)
  registerTaskCommands(program)
  registerAgentCommands(program)
  registerBudgetCommands(program)
  return program
}

/** Runs the CLI: each failure is one line on stderr and a non-zero exit (2 for bad input). */
export async function runCli (program: Command, argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2
      return
    }
    const exitCode = (err as { exitCode?: number }).exitCode ?? 1
    process.stderr.write(`peerflow: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = err instanceof CliError ? err.exitCode : exitCode
  }
}
