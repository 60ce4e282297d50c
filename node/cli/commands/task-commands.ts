import type { Command } from 'commander'
import { uploadAttachments, printTaskFiles, fetchTaskFile } from './task-files.ts'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import { CliError } from '../client.ts'
import type { PeerflowClient } from '../peerflow-client.ts'
import { parseDuration } from '../duration.ts'
import type { TaskReport, TaskState } from '../../api/types.ts'
import type { RoutePriority } from '../../../src/agents/index.ts'
import { formatDuration, printJson, printTable, shortPeerId } from '../output.ts'

/** Fields the progress line needs. */
export type ProgressView = Pick<TaskReport, 'state' | 'assignee' | 'stages' | 'stage' | 'attempts' | 'maxAttempts' | 'durationMs' | 'error'> & {
  progress: Pick<NonNullable<TaskReport['progress']>, 'state' | 'turn' | 'maxTurns' | 'tokens'> | null
}

interface SubmitOptions extends ReadOptions {
  swarm: string
  role?: string
  stages?: string
  attempts?: string
  maxTurns?: string
  maxTokens?: string
  timeLimit?: string
  wait?: boolean
  waitTimeout: string
  file: string[]
  priority?: string
}

const TERMINAL = new Set(['done', 'failed', 'cancelled'])
const POLL_MS = 200

function positiveInteger (value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 1) throw new CliError(`${option}: expected a positive integer, got '${value}'`, 2)
  return parsed
}

export function formatTokens (tokens: number): string {
  return tokens < 1000 ? String(tokens) : `${(tokens / 1000).toFixed(1)}k`
}

/** One line of what a waiting submit shows, e.g. "assigned to 12D3Koo…x1 · running · turn 2/8 · tokens 1.9k". */
export function progressLine (task: ProgressView): string {
  if (TERMINAL.has(task.state)) {
    const took = task.durationMs === null ? '' : ` in ${formatDuration(task.durationMs)}`
    return task.state === 'done' ? `done${took}` : `${task.state}${took}${task.error === null ? '' : `: ${task.error}`}`
  }
  const parts = [task.assignee === null ? 'waiting for a worker' : `assigned to ${shortPeerId(task.assignee)}`]
  if (task.stages.length > 1) parts.push(`stage ${task.stage + 1}/${task.stages.length} (${task.stages[task.stage] ?? '?'})`)
  if (task.attempts > 1) parts.push(`attempt ${task.attempts}/${task.maxAttempts}`)
  if (task.progress !== null) {
    parts.push(task.progress.state)
    if (task.progress.turn > 0) parts.push(`turn ${task.progress.turn}/${task.progress.maxTurns}`)
    parts.push(`tokens ${formatTokens(task.progress.tokens)}`)
  }
  return parts.join(' · ')
}

async function waitForTask (client: PeerflowClient, id: string, timeoutMs: number, showProgress: boolean): Promise<TaskReport> {
  const deadline = Date.now() + timeoutMs
  let shown = ''
  for (;;) {
    const task = await client.tasks.show(id)
    const line = progressLine(task)
    if (showProgress && line !== shown) {
      process.stderr.write(`${line}\n`)
      shown = line
    }
    if (TERMINAL.has(task.state)) return task
    if (Date.now() >= deadline) throw new CliError(`task ${id} is still ${task.state} after ${formatDuration(timeoutMs)}; follow it with: peerflow task show ${id}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

function indent (text: string, prefix = '  '): string {
  return text.split('\n').map((line) => `${prefix}${line}`).join('\n')
}

function printTask (task: TaskReport): void {
  const lines = [
    `Task ${task.id}   state: ${task.state}   swarm: ${task.swarm}   role: ${task.role}`,
    `Prompt:\n${indent(task.prompt)}`,
    `Assignee: ${task.assignee === null ? '-' : task.assignee}   attempts: ${task.attempts}/${task.maxAttempts}` +
      (task.progress === null ? '' : `   progress: ${task.progress.state}, turn ${task.progress.turn}/${task.progress.maxTurns}, ${formatTokens(task.progress.tokens)} tokens`)
  ]
  if (task.attemptLog.length > 0) {
    lines.push('Attempts:')
    for (const attempt of task.attemptLog) {
      const took = attempt.durationMs === null ? '' : `  ${formatDuration(attempt.durationMs)}`
      lines.push(`  ${attempt.id}  stage ${attempt.stage + 1} ${attempt.role}  ${attempt.worker === null ? '-' : shortPeerId(attempt.worker)}  ${attempt.reason} -> ${attempt.status}${took}` +
        `  ${formatTokens(attempt.tokens)} tokens${attempt.error === null ? '' : `  (${attempt.error})`}`)
    }
  }
  if (task.transcript.length > 0) {
    lines.push('Transcript:')
    for (const line of task.transcript) lines.push(`  [${line.turn}] ${line.role}${line.detail === undefined ? '' : ` (${line.detail})`}: ${line.text.replace(/\s+/g, ' ')}`)
  }
  if (task.result !== null) lines.push(`Result:\n${indent(task.result)}`)
  if (task.error !== null) lines.push(`Error: ${task.error}`)
  const tokens = task.usage.inputTokens + task.usage.outputTokens
  lines.push(`Cost: $${task.costUsd.toFixed(4)} (${formatTokens(tokens)} tokens${task.model === null ? '' : `, model ${task.model}`})` +
    (task.patterns.length > 0 ? `   patterns: ${task.patterns.join(', ')}` : ''))
  process.stdout.write(`${lines.join('\n')}\n`)
}

/** `peerflow task …`: work for a swarm's agents. */
export function registerTaskCommands (program: Command): void {
  const task = program.command('task').description("tasks for a swarm's agents: submit, follow, list, cancel")

  withApi(task.command('submit').argument('<prompt>').description("submit a task to a swarm; its elected leader assigns it to a member's agent"))
    .requiredOption('--swarm <name>', 'swarm that runs the task')
    .option('--role <role>', 'agent role (coder, reviewer, tester, planner, researcher, ...)')
    .option('--stages <roles>', 'multi-stage task: comma-separated roles, each stage fed the previous output (e.g. planner,coder,reviewer)')
    .option('--attempts <n>', 'attempts per stage before the task fails (default: the node config)')
    .option('--max-turns <n>', "agent budget: model turns (default: the role's)")
    .option('--max-tokens <n>', "agent budget: input + output tokens (default: the role's)")
    .option('--time-limit <duration>', "agent budget: wall time per attempt, e.g. 90s, 5m (default: the role's)")
    .option('--file <path>', 'attach a file (repeatable): its bytes stay in blob stores, the task records its SHA-256', (path: string, paths: string[]) => [...paths, path], [] as string[])
    .option('--priority <priority>', "model routing for every stage: quality | balanced | cost | speed | privacy (default: the role's)")
    .option('--wait', 'wait for the task to finish, showing its progress on stderr')
    .option('--wait-timeout <duration>', 'give up waiting after this long', '30m')
    .action(async (prompt: string, options: SubmitOptions) => {
      if (options.role !== undefined && options.stages !== undefined) throw new CliError('give either --role or --stages, not both', 2)
      const stages = options.stages?.split(',').map((stage) => stage.trim()).filter(Boolean)
      const budget = {
        maxTurns: positiveInteger(options.maxTurns, '--max-turns'),
        maxTokens: positiveInteger(options.maxTokens, '--max-tokens'),
        wallTimeMs: options.timeLimit === undefined ? undefined : parseDuration(options.timeLimit, '--time-limit')
      }
      const waitTimeoutMs = parseDuration(options.waitTimeout, '--wait-timeout')
      const client = clientFor(options)
      const files = await uploadAttachments(client.api, options.file)
      const submitted = await client.tasks.submit({
        swarm: options.swarm, prompt, role: options.role, stages, maxAttempts: positiveInteger(options.attempts, '--attempts'), budget, files, priority: options.priority as RoutePriority | undefined
      })
      if (options.wait !== true) {
        if (options.json === true) return printJson(submitted)
        process.stdout.write(`submitted ${submitted.id} to swarm ${submitted.swarm} (${submitted.role}); follow it with: peerflow task show ${submitted.id}\n`)
        return
      }
      const finished = await waitForTask(client, submitted.id, waitTimeoutMs, true)
      if (options.json === true) printJson(finished)
      else if (finished.result !== null) process.stdout.write(`${finished.result}\n`)
      if (finished.state !== 'done') process.exitCode = 1
    })

  withApi(task.command('list').description('tasks this node knows, newest first'))
    .option('--swarm <name>', 'only this swarm')
    .option('--state <state>', 'only this state: submitted | assigned | running | done | failed | cancelled')
    .action(async (options: ReadOptions & { swarm?: string, state?: string }) => {
      const reply = { tasks: await clientFor(options).tasks.list({ swarm: options.swarm, state: options.state as TaskState | undefined }) }
      if (options.json === true) return printJson(reply)
      printTable(reply.tasks, [
        { header: 'id', value: (row) => row.id },
        { header: 'swarm', value: (row) => row.swarm },
        { header: 'role', value: (row) => row.role },
        { header: 'state', value: (row) => row.state },
        { header: 'assignee', value: (row) => row.assignee === null ? '-' : shortPeerId(row.assignee) },
        { header: 'attempts', value: (row) => String(row.attempts) },
        { header: 'tokens', value: (row) => formatTokens(row.tokens) },
        { header: 'age', value: (row) => formatDuration(Date.now() - row.submittedAt) },
        { header: 'prompt', value: (row) => row.prompt.length > 50 ? `${row.prompt.slice(0, 49)}…` : row.prompt }
      ], 'no tasks')
    })

  withApi(task.command('show').argument('<id>').description('prompt, role, assignee, attempts, transcript summary, result and cost'))
    .option('--files', 'only the files: attached ones and those the agent produced, by content hash')
    .action(async (id: string, options: ReadOptions & { files?: boolean }) => {
      const report = await clientFor(options).tasks.show(id)
      if (options.files === true) return options.json === true ? printJson({ files: report.files, resultFiles: report.resultFiles }) : printTaskFiles(report)
      if (options.json === true) return printJson(report)
      printTask(report)
    })

  withApi(task.command('fetch').argument('<id>').argument('<file>', 'a file name from `task show <id> --files`').description("save one of a task's files (fetched from the peer that holds it)"))
    .option('--out <path>', 'where to write it (default: its base name in the current directory)')
    .action(async (id: string, file: string, options: ReadOptions & { out?: string }) => {
      const saved = await fetchTaskFile(clientFor(options).api, id, file, options.out)
      if (options.json === true) return printJson(saved)
      process.stdout.write(`saved ${saved.path} (${saved.size} bytes, sha256 ${saved.sha256})\n`)
    })

  withApi(task.command('cancel').argument('<id>').description('cancel a task; its running agent is stopped'))
    .action(async (id: string, options: ReadOptions) => {
      const report = await clientFor(options).tasks.cancel(id)
      if (options.json === true) return printJson(report)
      process.stdout.write(`cancelled ${id}\n`)
    })
}
