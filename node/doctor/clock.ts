import { failed, passed, type CheckResult, type RunningNode } from './check.ts'

/** No correct clock reads earlier than this: this code did not exist before. */
const EARLIEST_PLAUSIBLE = Date.UTC(2025, 0, 1)
/** Task records, TTLs and leases compare wall clocks across machines: beyond this, they misjudge ages. */
export const MAX_SKEW_MS = 5_000

export interface ClockReference {
  /** Whose clock, e.g. 'the node at 127.0.0.1:7433'. */
  source: string
  /** Local wall clock minus the reference, in ms. */
  skewMs: number
}

/** A reference from an HTTP server's Date header (whole seconds: allow for the truncation). */
export async function httpDateReference (url: string, timeoutMs: number): Promise<ClockReference | undefined> {
  const before = Date.now()
  try {
    const response = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) })
    const after = Date.now()
    const date = Date.parse(response.headers.get('date') ?? '')
    if (Number.isNaN(date)) return undefined
    const midpoint = (before + after) / 2
    const skew = midpoint - (date + 500)
    return { source: `the model endpoint ${new URL(url).host}`, skewMs: Math.abs(skew) <= 500 + (after - before) / 2 ? 0 : skew }
  } catch {
    return undefined
  }
}

export function nodeReference (node: RunningNode): ClockReference {
  return { source: `the node at ${node.api}`, skewMs: node.clockAt.local - node.clockAt.remote }
}

function seconds (ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

/** The wall clock is plausible and agrees with the references at hand. */
export function checkClock (references: ClockReference[], now = Date.now()): CheckResult {
  const name = 'clock'
  const fix = 'turn on time synchronisation: `timedatectl set-ntp true`, or run chrony or systemd-timesyncd'
  if (now < EARLIEST_PLAUSIBLE) return failed(name, `the system clock reads ${new Date(now).toISOString()}, which cannot be right`, fix)
  const off = references.filter((reference) => Math.abs(reference.skewMs) > MAX_SKEW_MS)
  if (off.length > 0) {
    return failed(name, off.map((reference) => `${seconds(Math.abs(reference.skewMs))} ${reference.skewMs > 0 ? 'ahead of' : 'behind'} ${reference.source}`).join('; '), fix)
  }
  const compared = references.length === 0 ? 'no reference clock reachable to compare with' : `within ${seconds(MAX_SKEW_MS)} of ${references.map((reference) => reference.source).join(' and ')}`
  return passed(name, `${new Date(now).toISOString()}, ${compared}`)
}
