import type { Command } from 'commander'
import type { BudgetReport, BudgetSetRequest } from '../../api/types.ts'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import { CliError } from '../client.ts'
import { printJson, printTable, shortPeerId } from '../output.ts'

/** `peerflow budget …`: daily spend caps that hold across the network. */

function money (usd: number | null): string {
  return usd === null ? '-' : `$${usd.toFixed(usd < 1 ? 4 : 2)}`
}

function dailyUsdOf (value: string): number | null {
  if (value === 'none') return null
  const parsed = Number(value)
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) throw new CliError(`--daily-usd: expected an amount in USD of 0 or more (or 'none'), got '${value}'`, 2)
  return parsed
}

function printBudget (report: BudgetReport): void {
  process.stdout.write(`Spend on ${report.day} (UTC), as this node sees it\n`)
  process.stdout.write(`Network: ${money(report.network.spentUsd)} of ${report.network.capUsd === null ? 'no cap' : money(report.network.capUsd)}\n\n`)
  printTable(report.swarms, [
    { header: 'swarm', value: (row) => row.name },
    { header: 'spent', value: (row) => money(row.spentUsd) },
    { header: 'committed', value: (row) => money(row.committedUsd) },
    { header: 'cap', value: (row) => row.capUsd === null ? '-' : money(row.capUsd) },
    { header: 'in force', value: (row) => row.effectiveCapUsd === null ? 'no cap' : money(row.effectiveCapUsd) }
  ], 'no swarms')
  process.stdout.write('\n')
  printTable(report.nodes, [
    { header: 'node', value: (row) => shortPeerId(row.peer) },
    { header: 'spent', value: (row) => money(row.spentUsd) },
    { header: 'cap', value: (row) => row.capUsd === null ? '-' : money(row.capUsd) }
  ], 'no spend')
  if (report.tasks.length > 0) {
    process.stdout.write('\n')
    printTable(report.tasks, [
      { header: 'task', value: (row) => row.id },
      { header: 'swarm', value: (row) => row.swarm },
      { header: 'state', value: (row) => row.state },
      { header: 'spent', value: (row) => money(row.spentUsd) },
      { header: 'budget', value: (row) => money(row.budgetUsd) }
    ], '')
  }
}

export function registerBudgetCommands (program: Command): void {
  const budget = program.command('budget').description('daily spend caps per swarm and for the whole network; spend per task, swarm, network and node')

  withApi(budget.command('set').description('set a daily cap (USD) for a swarm or the whole network; swarm leaders hand out allotments from it'))
    .option('--swarm <name>', 'cap this swarm')
    .option('--network', 'cap the whole network (split evenly among its swarms)')
    .requiredOption('--daily-usd <amount>', "the cap in USD per UTC day, or 'none' to lift it")
    .action(async (options: ReadOptions & { swarm?: string, network?: boolean, dailyUsd: string }) => {
      if ((options.swarm === undefined) === (options.network !== true)) throw new CliError('give either --swarm <name> or --network', 2)
      const dailyUsd = dailyUsdOf(options.dailyUsd)
      const body: BudgetSetRequest = options.swarm === undefined ? { scope: 'network', dailyUsd } : { scope: 'swarm', swarm: options.swarm, dailyUsd }
      const report = await clientFor(options).budget.set(body)
      if (options.json === true) return printJson(report)
      const what = options.swarm === undefined ? 'the network' : `swarm ${options.swarm}`
      process.stdout.write(dailyUsd === null ? `lifted the daily cap of ${what}\n` : `daily cap of ${what}: ${money(dailyUsd)}\n`)
    })

  withApi(budget.command('show').description('spent / cap per swarm, network, node and budgeted task, today (UTC)'))
    .action(async (options: ReadOptions) => {
      const report = await clientFor(options).budget.show()
      if (options.json === true) return printJson(report)
      printBudget(report)
    })
}
