import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { defaultDataDir } from '../config/data-dir.ts'
import { createNetworkSecret } from '../admission/network-secret.ts'

/** `peerflow network init`: a local file operation, so it needs no running node. */
export function registerNetworkCommands (program: Command): void {
  const network = program.command('network').description('network membership: the shared secret that admits nodes')
  network.command('init')
    .description('create a network secret (mode 0600) and print how to share it')
    .requiredOption('--name <name>', 'network name, used for the file name')
    .option('--data <dir>', 'data directory to create it in (env PEERFLOW_DATA, default ~/.peerflow)')
    .option('--out <path>', 'write the secret here instead')
    .action(async (options: { name: string, data?: string, out?: string }) => {
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/.test(options.name)) {
        throw Object.assign(new Error(`invalid network name '${options.name}': letters, digits, '-' and '_'`), { exitCode: 2 })
      }
      const path = resolve(options.out ?? join(options.data ?? process.env.PEERFLOW_DATA ?? defaultDataDir(), `${options.name}.key`))
      await createNetworkSecret(path)
      process.stdout.write([
        `created the secret of network '${options.name}' in ${path} (mode 0600)`,
        'Copy this file to every member over a private channel (scp, a password manager); anyone holding it can join.',
        `Start each member with: peerflow start --network-secret-file ${path}`,
        ''
      ].join('\n'))
    })
}
