import { CliError } from './client.ts'

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parses '90s', '30m', '24h', '7d' or '1500ms' into milliseconds; anything else is a usage error. */
export function parseDuration (text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (match === null) throw new CliError(`${option}: expected a duration like 90s, 30m, 24h or 7d, got '${text}'`, 2)
  const value = Number(match[1]) * (UNITS[match[2] as string] as number)
  if (value <= 0) throw new CliError(`${option}: must be positive`, 2)
  return Math.round(value)
}
