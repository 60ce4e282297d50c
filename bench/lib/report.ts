import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { cpus, totalmem } from 'node:os'

/** Shared benchmark statistics and reporting: medians and percentiles, a table, and JSON results. */

export function percentile (values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] as number
}

export function median (values: number[]): number {
  return percentile(values, 50)
}

export interface BenchRow {
  metric: string
  value: number | string
  unit: string
  goal?: string
  /** Whether the goal was met; omitted for figures without a goal. */
  met?: boolean
}

export function printRows (title: string, rows: BenchRow[]): void {
  const cells = rows.map((row) => [
    row.metric,
    typeof row.value === 'number' ? formatNumber(row.value) : row.value,
    row.unit,
    row.goal ?? '',
    row.met === undefined ? '' : row.met ? 'yes' : 'NO'
  ])
  const header = ['metric', 'value', 'unit', 'goal', 'met']
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)))
  const line = (c: string[]): string => c.map((cell, i) => i === 1 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  process.stdout.write(`\n${title}\n${line(header)}\n${cells.map(line).join('\n')}\n`)
}

function formatNumber (value: number): string {
  if (!Number.isFinite(value)) return String(value)
  if (Math.abs(value) >= 1000) return value.toFixed(0)
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(3)
}

/** Writes bench/results/<name>.json with the rows, the raw samples and the machine it ran on. */
export async function writeResults (name: string, rows: BenchRow[], extra: Record<string, unknown> = {}): Promise<string> {
  const dir = fileURLToPath(new URL('../results/', import.meta.url))
  await mkdir(dir, { recursive: true })
  const path = `${dir}${name}.json`
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version }
  await writeFile(path, `${JSON.stringify({ name, at: new Date().toISOString(), machine, rows, ...extra }, null, 2)}\n`)
  process.stdout.write(`results written to bench/results/${name}.json\n`)
  return path
}
