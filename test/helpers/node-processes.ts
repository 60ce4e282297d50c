import { rm } from 'node:fs/promises'
import { afterEach } from 'vitest'
import { startNodeProcess, type NodeProcess } from './cli.ts'
import { tempDir } from './nodes.ts'

/** `--listen` flags for QUIC and TCP on loopback with ports the system picks. */
export const LOOPBACK_LISTEN_ARGS = ['--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0']

export interface NodeProcessesPerTest {
  /** A fresh data dir, removed after the test. */
  dataDir: () => Promise<string>
  /** `peerflow start` on loopback with a system-picked API port; killed after the test. */
  start: (dir: string, extra?: string[], env?: NodeJS.ProcessEnv) => Promise<NodeProcess>
}

/** For a test file: node processes and data dirs that each test gets cleaned up. Call it at the top level of the file. */
export function nodeProcessesPerTest (): NodeProcessesPerTest {
  const processes: NodeProcess[] = []
  const dirs: string[] = []
  afterEach(async () => {
    await Promise.all(processes.splice(0).map(async (p) => { await p.stop('SIGKILL') }))
    await Promise.all(dirs.splice(0).map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
  })
  return {
    dataDir: async () => {
      const dir = await tempDir()
      dirs.push(dir)
      return dir
    },
    start: async (dir, extra = [], env = {}) => {
      const node = await startNodeProcess(['--data', dir, '--api', '127.0.0.1:0', ...LOOPBACK_LISTEN_ARGS, ...extra], env)
      processes.push(node)
      return node
    }
  }
}
