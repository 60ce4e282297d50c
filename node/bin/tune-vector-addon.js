// Run by `npm install` (postinstall). Rebuilds hnswlib-node's native addon for this machine's CPU.
//
// Its generic build targets baseline x86-64, so the vector distances that HNSW inserts and searches
// spend their time in use SSE only. hnswlib picks AVX or AVX-512 code at run time, but only when
// compiled with them; built with -march=native, inserts took about 1.3-1.5 x less CPU and searches
// about 1.5 x less time (docs/BENCHMARKS.md, Vectors). Plain JavaScript: it runs before any build.
//
// PEERFLOW_PORTABLE_NATIVE=1 keeps the generic build, for an image built on one machine and run on
// others (the Dockerfile sets it). A failed rebuild keeps the generic build too, with a warning.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const say = (line) => { process.stderr.write(`peerflow: ${line}\n`) }
const require = createRequire(import.meta.url)

function packageDir () {
  try {
    return dirname(require.resolve('hnswlib-node/package.json'))
  } catch {
    return undefined
  }
}

const dir = packageDir()
const gyp = process.env.npm_config_node_gyp
const addon = dir === undefined ? undefined : join(dir, 'build', 'Release', 'addon.node')
if (process.env.PEERFLOW_PORTABLE_NATIVE === '1') {
  say('PEERFLOW_PORTABLE_NATIVE=1: hnswlib-node keeps its generic build')
} else if (addon === undefined || !existsSync(addon)) {
  say('hnswlib-node is not built here; nothing to tune')
} else if (gyp === undefined || !existsSync(gyp)) {
  say('node-gyp not found (run through npm install); hnswlib-node keeps its generic build')
} else {
  // Outside build/, which the rebuild starts by removing.
  const backup = join(dir, 'addon.generic.node')
  copyFileSync(addon, backup)
  say('building hnswlib-node for this CPU (-O3 -march=native, about 15 s)…')
  const build = spawnSync(process.execPath, [gyp, 'rebuild'], {
    cwd: dir,
    env: { ...process.env, CXXFLAGS: `${process.env.CXXFLAGS ?? ''} -O3 -march=native`.trim() },
    encoding: 'utf8'
  })
  // The rebuilt addon must load here and answer a search, or the generic one comes back.
  const check = build.status === 0 && spawnSync(process.execPath, ['-e', `
    const { HierarchicalNSW } = require(${JSON.stringify(dir)})
    const index = new HierarchicalNSW('cosine', 8)
    index.initIndex(2)
    index.addPoint([1, 0, 0, 0, 0, 0, 0, 0], 0)
    index.addPoint([0, 1, 0, 0, 0, 0, 0, 0], 1)
    if (index.searchKnn([0.9, 0.1, 0, 0, 0, 0, 0, 0], 1).neighbors[0] !== 0) process.exit(1)
  `], { encoding: 'utf8' })
  if (check !== false && check.status === 0) {
    say('hnswlib-node built for this CPU')
  } else {
    mkdirSync(dirname(addon), { recursive: true })
    copyFileSync(backup, addon)
    const output = `${build.stderr ?? ''}${check === false ? '' : check.stderr ?? ''}`.trim().split('\n').slice(-3).join('\n')
    say(`the CPU-specific build of hnswlib-node failed; kept the generic build:\n${output}`)
  }
}
