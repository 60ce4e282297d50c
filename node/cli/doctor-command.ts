import type { Command } from 'commander'

interface DoctorFlags {
  api?: string
  data?: string
  token?: string
  json?: boolean
}

/** `peerflow doctor`: checks this machine (and the node on --api, when one answers); exit 1 if any check fails. */
export function registerDoctorCommand (program: Command): void {
  program.command('doctor')
    .description('check Node, native addons, data dir, key permissions, ports, bootstrap peers, model provider and clock')
    .option('--api <host:port>', 'control API of a running node to ask (default: the configured API address, if a node answers there)')
    .option('--data <dir>', 'data directory to check (default: the running node\'s, else env PEERFLOW_DATA or ~/.peerflow)')
    .option('--token <token>', 'bearer token of a control API bound beyond loopback (env PEERFLOW_API_TOKEN)')
    .option('--json', 'print one JSON document')
    .action(async (flags: DoctorFlags) => {
      // Loaded here, not at the top: doctor pulls in libp2p and the model SDK, which other commands never need.
      const { formatDoctorReport, runDoctor } = await import('../doctor/run-doctor.ts')
      const report = await runDoctor({ api: flags.api, dataDir: flags.data, token: flags.token })
      process.stdout.write(flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report))
      if (!report.ok) process.exitCode = 1
    })
}
