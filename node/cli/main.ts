import { buildProgram, runCli } from './program.ts'
import { registerDoctorCommand } from './doctor-command.ts'
import { registerNetworkCommands } from './network-command.ts'
import { registerStartCommand } from './start-command.ts'
import { VERSION } from '../core/version.ts'

await runCli(buildProgram(VERSION, (program) => {
  registerStartCommand(program)
  registerNetworkCommands(program)
  registerDoctorCommand(program)
}), process.argv)
