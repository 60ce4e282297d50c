import { Command, CommanderError } from 'commander'
import { PeerflowError } from '../../crdt/peerflow-error.ts'
import { CliError } from './client.ts'
import { registerAgentCommands } from './commands/agent-commands.ts'
import { registerBudgetCommands } from './commands/budget-commands.ts'
import { registerMemoryCommands } from './commands/memory-commands.ts'
import { registerMcpCommand } from './mcp/mcp-command.ts'
import { registerNodeCommands } from './commands/node-commands.ts'
import { registerPatternCommands } from './commands/pattern-commands.ts'
import { registerSwarmCommands } from './commands/swarm-commands.ts'
import { registerTaskCommands } from './commands/task-commands.ts'
import { registerToolCommands } from './commands/tool-commands.ts'
import { registerModelCommands } from './commands/model-commands.ts'

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
  registerMcpCommand(program)
  registerToolCommands(program)
  registerModelCommands(program)
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
    process.exitCode = err instanceof CliError ? err.exitCode : err instanceof PeerflowError ? exitCodeOf(err) : exitCode
  }
}

/** Bad input (a malformed request, a name that does not exist) is exit 2; everything else 1. */
function exitCodeOf (err: PeerflowError): number {
  return err.kind === 'invalid' || err.kind === 'not-found' ? 2 : 1
}
