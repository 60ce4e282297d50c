/**
 * npm run bench:heal — only the convergence-after-heal rows of `npm run bench:memory`
 * (bench/lib/heal.ts), for a cheap re-run. BENCH_HEAL_ROUNDS, BENCH_HEAL_FAULT_MS and
 * BENCH_HEAL_WRITES size it; BENCH_HEAL_FAULTS picks the faults (e.g. `none,pause`).
 */
import { loadavg } from 'node:os'
import { DEFAULT_HEAL_FAULT_MS, healOptionsFromEnv, measureHeals } from './lib/heal.ts'
import { printRows, writeResults } from './lib/report.ts'

const options = healOptionsFromEnv()
const loadBefore = loadavg()
process.stdout.write(`convergence after heal: ${options.heals} heals per fault, ${options.faultMs} ms faults, 5 processes\n`)
const { rows, samples } = await measureHeals(options, (line) => process.stdout.write(line))
printRows('convergence after heal', rows)
// The default run keeps heal.json; a variant (longer faults, some faults only) gets its own file beside it.
const variant = [
  ...(options.faultMs === DEFAULT_HEAL_FAULT_MS ? [] : [`${Math.round(options.faultMs / 1000)}s`]),
  ...(process.env.BENCH_HEAL_FAULTS === undefined ? [] : options.faults)
]
const name = ['heal', ...variant].join('-')
await writeResults(name, rows, { options, samples, loadavg: { before: loadBefore, after: loadavg() } })
process.exit(0)
