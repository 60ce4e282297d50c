import { buildProgram, runCli } from '../src/cli/program.ts'
import { registerStartCommand } from './start-command.ts'
import { VERSION } from './version.ts'

await runCli(buildProgram(VERSION, registerStartCommand), process.argv)
