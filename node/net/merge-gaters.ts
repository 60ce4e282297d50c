import type { ConnectionGater } from '@libp2p/interface'

type GaterCheck = (...args: never[]) => boolean | Promise<boolean>

/** Combines connection gaters: a connection is denied when any of them denies it. */
export function mergeGaters (...gaters: Array<Partial<ConnectionGater>>): Partial<ConnectionGater> {
  const merged: Record<string, GaterCheck> = {}
  const names = new Set(gaters.flatMap((gater) => Object.keys(gater)))
  for (const name of names) {
    const checks = gaters.map((gater) => (gater as Record<string, GaterCheck | undefined>)[name]).filter((check) => check !== undefined)
    merged[name] = async (...args: never[]) => {
      for (const check of checks) if (await check(...args)) return true
      return false
    }
  }
  return merged as Partial<ConnectionGater>
}
