import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const PEERFLOW_BIN = fileURLToPath(new URL('../../node/bin/peerflow.js', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the real `peerflow` CLI in its own process. */
export async function runCli (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<CliResult> {
  return runProcess(process.execPath, [PEERFLOW_BIN, ...args], { env: { ...process.env, ...env }, timeoutMs })
}

/** Runs a program to its end (killed after `timeoutMs`), collecting what it printed. */
export async function runProcess (command: string, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  const timeoutMs = options.timeoutMs ?? 30_000
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

export interface NodeProcess {
  child: ChildProcess
  api: string
  peerId: string
  addresses: string[]
  output: () => string
  /** Sends a signal and waits for the process to exit. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/** Starts `peerflow start` as a separate process and waits for its banner (PeerId, addresses, API). */
export async function startNodeProcess (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<NodeProcess> {
  const child = spawn(process.execPath, [PEERFLOW_BIN, 'start', ...args], {
    env: { ...process.env, PEERFLOW_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const banner = await new Promise<{ api: string, peerId: string, addresses: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`node did not start within ${timeoutMs} ms:\n${output}`))
    }, timeoutMs)
    const check = (): void => {
      const api = /control API: http:\/\/(\S+)/.exec(output)?.[1]
      const peerId = /peerflow node (\S+)/.exec(output)?.[1]
      if (api !== undefined && peerId !== undefined) {
        clearTimeout(timer)
        resolve({ api, peerId, addresses: [...output.matchAll(/^ {2}(\/\S+)$/gm)].map((m) => m[1] as string) })
      }
    }
    child.stdout?.on('data', check)
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`node exited with ${code} before starting:\n${output}`)) })
  })
  return {
    child,
    ...banner,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    }
  }
}
