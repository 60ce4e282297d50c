/** Output helpers shared by the commands: one JSON document with --json, aligned tables otherwise. */

export function printJson (value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

export interface Column<T> {
  header: string
  value: (row: T) => string
}

export function formatTable<T> (rows: T[], columns: Array<Column<T>>): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)))
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => (line[i] ?? '').length)))
  const render = (line: string[]): string => line.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [render(columns.map((column) => column.header)), ...cells.map(render)].join('\n')
}

export function printTable<T> (rows: T[], columns: Array<Column<T>>, empty: string): void {
  process.stdout.write(rows.length === 0 ? `${empty}\n` : `${formatTable(rows, columns)}\n`)
}

export function shortPeerId (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}

export function formatDuration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const seconds = Math.floor(ms / 1000)
  if (seconds < 60) return `${(ms / 1000).toFixed(1)} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours}h ${minutes % 60}m`
  return `${Math.floor(hours / 24)}d ${hours % 24}h`
}
