import type { Command } from 'commander'
import { uploadAttachments, printTaskFiles, fetchTaskFile } from './task-files.ts'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import { CliError } from '../client.ts'
import type { PeerflowClient } from '../peerflow-client.ts'
import { parseDuration } from '../duration.ts'
import { readInputFile } from '../input-file.ts'
import type { LoopReport, TaskReport, TaskState, TaskSummary } from '../../api/types.ts'
import type { RoutePriority } from '../../../src/agents/index.ts'
import { formatDuration, printJson, printTable, shortPeerId } from '../output.ts'

/** Fields the progress line needs. */
export type ProgressView = Pick<TaskReport, 'state' | 'assignee' | 'stages' | 'stage' | 'attempts' | 'maxAttempts' | 'durationMs' | 'error'> & {
  progress: Pick<NonNullable<TaskReport['progress']>, 'state' | 'turn' | 'maxTurns' | 'tokens'> | null
  /** Loop tasks. */
  loop?: Pick<LoopReport, 'maxIterations' | 'running' | 'spentUsd' | 'checkpoint' | 'iterationLog'> | null
  stopReason?: TaskReport['stopReason']
  blockedBy?: string[]
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
  promptFile?: string
  loop?: boolean
  prdFile?: string
  maxIterations?: string
  iterationTimeout?: string
  budgetUsd?: string
  after?: string
  approve?: boolean
  approveStages?: string
}

/** Flags that only make sense with --loop. */
const LOOP_ONLY = [['prdFile', '--prd-file'], ['maxIterations', '--max-iterations'], ['iterationTimeout', '--iteration-timeout']] as const
const DEFAULT_MAX_ITERATIONS = 20
const DEFAULT_ITERATION_TIMEOUT = '10m'
const LAST_NOTE_CHARS = 60

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

function usd (value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined
  const parsed = Number(value)
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) throw new CliError(`${option}: expected an amount in USD of 0 or more, got '${value}'`, 2)
  return parsed
}

function oneLine (text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`
}

/** A loop's line, e.g. 'iteration 7/50 · worker 12D3KooW…44AqvW · $0.41 · last: "tests pass for module x"'. */
function loopLine (task: ProgressView, loop: NonNullable<ProgressView['loop']>): string {
  const done = loop.iterationLog.length
  const parts = [`iteration ${loop.running ?? Math.min(done + 1, loop.maxIterations)}/${loop.maxIterations}`]
  parts.push(task.assignee === null ? 'waiting for a worker' : `worker ${shortPeerId(task.assignee)}`)
  parts.push(`$${loop.spentUsd.toFixed(2)}`)
  if (loop.checkpoint !== null) parts.push(`last: "${oneLine(loop.checkpoint, LAST_NOTE_CHARS)}"`)
  return parts.join(' · ')
}

/** One line of what a waiting submit shows, e.g. "assigned to 12D3Koo…x1 · running · turn 2/8 · tokens 1.9k". */
export function progressLine (task: ProgressView): string {
  if (TERMINAL.has(task.state)) {
    const took = task.durationMs === null ? '' : ` in ${formatDuration(task.durationMs)}`
    const loop = task.loop === undefined || task.loop === null ? '' : ` · ${task.loop.iterationLog.length} iterations${task.stopReason === null || task.stopReason === undefined ? '' : ` (${task.stopReason})`}`
    return task.state === 'done' ? `done${took}${loop}` : `${task.state}${took}${loop}${task.error === null ? '' : `: ${task.error}`}`
  }
  if (task.state === 'waiting') return `waiting for ${task.blockedBy?.join(', ') ?? 'its dependencies'}`
  if (task.state === 'input-required') return 'waiting for approval (peerflow task approve|reject <id>)'
  if (task.loop !== undefined && task.loop !== null) return loopLine(task, task.loop)
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
  if (task.after.length > 0) lines.push(`After: ${task.after.join(', ')}${task.blockedBy.length > 0 ? `   waiting for: ${task.blockedBy.join(', ')}` : ''}`)
  if (task.approval !== null) {
    const approval = task.approval
    const where = approval.beforeStage === 1 ? '' : ` before stage ${approval.beforeStage}`
    lines.push(approval.state === 'pending'
      ? `Approval${where}: pending (peerflow task approve ${task.id} [--note ...] | peerflow task reject ${task.id} --note ...)` +
        (approval.beforeStage === 1 ? '' : `\n${indent(approval.request)}`)
      : `Approval${where}: ${approval.state} by ${approval.by ?? '?'}${approval.at === null ? '' : ` at ${new Date(approval.at).toISOString()}`}${approval.note === null ? '' : `: ${approval.note}`}`)
  }
  if (task.loop !== null) {
    const loop = task.loop
    lines.push(`Loop: ${task.iterations}/${loop.maxIterations} iterations` + (loop.running === null ? '' : `, running ${loop.running}`) +
      `   spent: $${loop.spentUsd.toFixed(4)}${loop.budgetUsd === null ? '' : ` of $${loop.budgetUsd}`}` +
      `   iteration timeout: ${formatDuration(loop.iterationTimeoutMs)}` + (task.stopReason === null ? '' : `   stopped: ${task.stopReason}`))
    if (loop.iterationLog.length > 0) lines.push('Iterations:')
    for (const it of loop.iterationLog) {
      lines.push(`  ${String(it.iteration).padStart(3)}  ${shortPeerId(it.worker)} (${it.attempt})  ${formatDuration(it.durationMs)}  $${it.costUsd.toFixed(4)}` +
        `${it.repeatOf === null ? '' : `  [repeats the iteration attempt ${it.repeatOf} had in flight]`}${it.complete ? '  [complete]' : ''}  "${oneLine(it.checkpoint, 80)}"`)
    }
  }
  if (task.transcript.length > 0) {
    lines.push('Transcript:')
    for (const line of task.transcript) lines.push(`  [${line.turn}] ${line.role}${line.detail === undefined ? '' : ` (${line.detail})`}: ${line.text.replace(/\s+/g, ' ')}`)
  }
  if (task.result !== null) lines.push(`Result:\n${indent(task.result)}`)
  if (task.error !== null) lines.push(`Error: ${task.error}`)
  const tokens = task.usage.inputTokens + task.usage.outputTokens
  lines.push(`Cost: $${task.costUsd.toFixed(4)}${task.budgetUsd === null ? '' : ` of $${task.budgetUsd}`} (${formatTokens(tokens)} tokens${task.model === null ? '' : `, model ${task.model}`})` +
    (task.patterns.length > 0 ? `   patterns: ${task.patterns.join(', ')}` : ''))
  process.stdout.write(`${lines.join('\n')}\n`)
}

/** `peerflow task …`: work for a swarm's agents. */
export function registerTaskCommands (program: Command): void {
  const task = program.command('task').description("tasks for a swarm's agents: submit, follow, list, cancel")

  withApi(task.command('submit').argument('[prompt]').description("submit a task to a swarm; its elected leader assigns it to a member's agent"))
    .requiredOption('--swarm <name>', 'swarm that runs the task')
    .option('--prompt-file <file>', 'read the prompt from a file instead of the argument')
    .option('--loop', 'loop task: run the prompt again and again, each iteration fed the PRD and the previous checkpoint, until the agent declares it complete or a limit is hit')
    .option('--prd-file <file>', 'loop: the requirements document each iteration works towards')
    .option('--max-iterations <n>', `loop: stop after this many iterations (default ${DEFAULT_MAX_ITERATIONS})`)
    .option('--iteration-timeout <duration>', `loop: wall time per iteration, e.g. 10m (default ${DEFAULT_ITERATION_TIMEOUT})`)
    .option('--budget-usd <amount>', 'spend cap in USD over the whole task or loop (from model usage and the price table)')
    .option('--after <ids>', 'comma-separated task ids that must be done first; one failing fails this task')
    .option('--approve', "wait in state input-required until someone runs 'peerflow task approve <id>'")
    .option('--approve-stages <numbers>', 'multi-stage task: stages (counting from 1) that wait for an approval of the previous stage\'s output, e.g. 3 or 2,3')
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
    .action(async (argument: string | undefined, options: SubmitOptions) => {
      if (options.role !== undefined && options.stages !== undefined) throw new CliError('give either --role or --stages, not both', 2)
      if (argument !== undefined && options.promptFile !== undefined) throw new CliError('give the prompt either as an argument or with --prompt-file, not both', 2)
      if (argument === undefined && options.promptFile === undefined) throw new CliError('missing the prompt: give it as an argument or with --prompt-file', 2)
      if (options.loop !== true) {
        const stray = LOOP_ONLY.find(([field]) => options[field] !== undefined)
        if (stray !== undefined) throw new CliError(`${stray[1]} needs --loop`, 2)
      } else if (options.stages !== undefined) {
        throw new CliError('a loop task has one role: give --role, not --stages', 2)
      }
      const loop = options.loop === true
        ? {
            maxIterations: positiveInteger(options.maxIterations, '--max-iterations') ?? DEFAULT_MAX_ITERATIONS,
            iterationTimeoutMs: parseDuration(options.iterationTimeout ?? DEFAULT_ITERATION_TIMEOUT, '--iteration-timeout'),
            budgetUsd: usd(options.budgetUsd, '--budget-usd') ?? null,
            prd: options.prdFile === undefined ? null : await readInputFile(options.prdFile, '--prd-file')
          }
        : undefined
      const prompt = argument ?? await readInputFile(options.promptFile as string, '--prompt-file')
      const stages = options.stages?.split(',').map((stage) => stage.trim()).filter(Boolean)
      const budget = {
        maxTurns: positiveInteger(options.maxTurns, '--max-turns'),
        maxTokens: positiveInteger(options.maxTokens, '--max-tokens'),
        wallTimeMs: options.timeLimit === undefined ? undefined : parseDuration(options.timeLimit, '--time-limit'),
        maxCostUsd: options.loop === true ? undefined : usd(options.budgetUsd, '--budget-usd')
      }
      const waitTimeoutMs = parseDuration(options.waitTimeout, '--wait-timeout')
      const client = clientFor(options)
      const files = await uploadAttachments(client.api, options.file)
      const submitted = await client.tasks.submit({
        swarm: options.swarm,
        prompt,
        role: options.role,
        stages,
        maxAttempts: positiveInteger(options.attempts, '--attempts'),
        budget,
        files,
        priority: options.priority as RoutePriority | undefined,
        loop,
        approve: options.approve === true ? true : undefined,
        approveStages: options.approveStages?.split(',').map((stage) => positiveInteger(stage.trim(), '--approve-stages') as number - 1),
        after: options.after?.split(',').map((id) => id.trim()).filter(Boolean)
      })
      if (options.wait !== true) {
        if (options.json === true) return printJson(submitted)
        const kind = submitted.loop === null ? '' : `, loop of at most ${submitted.loop.maxIterations} iterations`
        process.stdout.write(`submitted ${submitted.id} to swarm ${submitted.swarm} (${submitted.role}${kind}); follow it with: peerflow task show ${submitted.id}\n`)
        return
      }
      const finished = await waitForTask(client, submitted.id, waitTimeoutMs, true)
      if (options.json === true) printJson(finished)
      else if (finished.result !== null) process.stdout.write(`${finished.result}\n`)
      if (finished.state !== 'done') process.exitCode = 1
    })

  withApi(task.command('list').description('tasks this node knows, newest first'))
    .option('--swarm <name>', 'only this swarm')
    .option('--state <state>', 'only this state: waiting | input-required | submitted | assigned | running | done | failed | cancelled')
    .action(async (options: ReadOptions & { swarm?: string, state?: string }) => {
      const reply = { tasks: await clientFor(options).tasks.list({ swarm: options.swarm, state: options.state as TaskState | undefined }) }
      if (options.json === true) return printJson(reply)
      const pending = reply.tasks.filter((row) => row.state === 'input-required')
      if (pending.length > 0) process.stdout.write(`${pending.length} waiting for approval: peerflow task approve|reject ${pending.map((row) => row.id).join(' | ')}\n`)
      printTable(reply.tasks, [
        { header: 'id', value: (row) => row.id },
        { header: 'swarm', value: (row) => row.swarm },
        { header: 'role', value: (row) => row.role },
        { header: 'state', value: (row) => row.state === 'input-required' ? 'input-required (approval)' : row.state },
        { header: 'iter', value: (row) => row.iterations === 0 ? '-' : String(row.iterations) },
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

  for (const [verb, past] of [['approve', 'approved'], ['reject', 'rejected']] as const) {
    withApi(task.command(verb).argument('<id>').description(`${verb} a task waiting in input-required (from any node); who and the note are recorded`))
      .option('--note <text>', 'why, recorded with the decision')
      .action(async (id: string, options: ReadOptions & { note?: string }) => {
        const report = await clientFor(options).tasks[verb](id, options.note ?? null)
        if (options.json === true) return printJson(report)
        process.stdout.write(`${past} ${id}${report.state === 'waiting' ? ` (still waiting for ${report.blockedBy.join(', ')})` : ''}\n`)
      })
  }

  withApi(task.command('cancel').argument('<id>').description('cancel a task; its running agent is stopped'))
    .action(async (id: string, options: ReadOptions) => {
      const report = await clientFor(options).tasks.cancel(id)
      if (options.json === true) return printJson(report)
      process.stdout.write(`cancelled ${id}\n`)
    })
}
