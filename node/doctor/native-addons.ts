import { loadQuantizedAddon } from '../../src/reasoningbank/quantized-addon.ts'
import { failed, passed, type CheckResult } from './check.ts'

export interface NativeAddon {
  module: string
  /** What peerflow uses it for, shown in the report. */
  purpose: string
  /** How to get it working again when it does not load. */
  fix: string
}

/** Modules with compiled code: importing each one loads its binary, which is what can fail. */
export const NATIVE_ADDONS: readonly NativeAddon[] = [
  { module: 'hnswlib-node', purpose: 'ReasoningBank vector index', fix: 'run `npm rebuild hnswlib-node` (needs python3, make and a C++ compiler)' },
  { module: 'classic-level', purpose: 'LevelDB storage of replicated memory', fix: 'run `npm rebuild classic-level` (needs python3, make and a C++ compiler)' },
  {
    module: '@chainsafe/libp2p-quic',
    purpose: 'QUIC transport',
    fix: "run `npm install` on this machine to fetch this platform's QUIC binary (not `npm ci`: the lock omits other platforms'), or start with --no-quic to use TCP only"
  }
]

export async function checkNativeAddon (addon: NativeAddon): Promise<CheckResult> {
  const name = `native addon ${addon.module}`
  try {
    await import(addon.module)
    return passed(name, `loads (${addon.purpose})`)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const detail = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
      ? `not installed (${addon.purpose})`
      : `does not load: ${firstLine((err as Error).message)}`
    return failed(name, detail, addon.fix)
  }
}

/** peerflow's own addon, built by `npm install`; without it the bank falls back to float32 shards. */
export function checkQuantizedIndexAddon (): CheckResult {
  const name = 'native addon int8 HNSW'
  const loaded = loadQuantizedAddon()
  if (loaded.ok) return passed(name, `loads (ReasoningBank vector index, ${loaded.addon.kernel} kernel)`)
  return failed(name, `${loaded.reason}; the ReasoningBank uses slower float32 shards meanwhile`, 'run `npm install` again (it builds the addon; needs python3, make and a C++ compiler)')
}

function firstLine (text: string): string {
  return text.split('\n', 1)[0] ?? text
}
