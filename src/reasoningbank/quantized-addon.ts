import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The native graph of native/quantized_hnsw.cc: an hnswlib index over int8 codes of unit vectors. */
export interface NativeQuantizedHnsw {
  add: (label: number, vector: Float32Array, replaceDeleted: boolean) => void
  /** Inserts the rows on `threads` threads off the JavaScript thread; other calls throw until it settles. */
  addMany: (labels: Uint32Array, vectors: Float32Array, threads: number) => Promise<void>
  /** Rows of the running or last addMany inserted so far. */
  inserted: () => number
  /** Stops a running addMany after each thread's current insert; it then rejects with 'cancelled'. */
  cancel: () => void
  markDelete: (label: number) => void
  search: (query: Float32Array, k: number, filter?: (label: number) => boolean) => { labels: Uint32Array, distances: Float32Array }
  setEf: (ef: number) => void
  getEf: () => number
  /** Slots in use, mark-deleted ones included. */
  count: () => number
  capacity: () => number
  resize: (capacity: number) => void
  save: (path: string) => void
  bytesPerVector: () => number
}

export interface QuantizedAddon {
  QuantizedHnsw: {
    new (dimensions: number, capacity: number, m: number, efConstruction: number, seed: number): NativeQuantizedHnsw
    new (dimensions: number, path: string): NativeQuantizedHnsw
  }
  /** The int8 dot-product kernel picked for this CPU: 'avx512-vnni', 'avx2' or 'scalar'. */
  kernel: string
}

export type AddonLoad = { ok: true, addon: QuantizedAddon } | { ok: false, reason: string }

/** Built by `npm install` (node/bin/build-quantized-index.js) under the sources, also when running from dist/. */
const ADDON_PATH = join('src', 'reasoningbank', 'native', 'build', 'Release', 'quantized_hnsw.node')

let loaded: AddonLoad | undefined

/** Loads the addon once; when it is missing or does not load, says why (the bank then uses float32 shards). */
export function loadQuantizedAddon (): AddonLoad {
  loaded ??= tryLoad()
  return loaded
}

function tryLoad (): AddonLoad {
  const path = findUpwards(dirname(fileURLToPath(import.meta.url)), ADDON_PATH)
  if (path === undefined) return { ok: false, reason: 'the int8 HNSW addon is not built (run npm install; it needs python3, make and a C++ compiler)' }
  try {
    return { ok: true, addon: createRequire(import.meta.url)(path) as QuantizedAddon }
  } catch (error) {
    return { ok: false, reason: `the int8 HNSW addon does not load: ${error instanceof Error ? error.message.split('\n', 1)[0] : String(error)}` }
  }
}

/** `relative` under the nearest directory above `from` that holds it: the project root, from the sources or from dist/. */
function findUpwards (from: string, relative: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, relative)
    if (existsSync(candidate)) return candidate
    if (dirname(dir) === dir) return undefined
  }
}
