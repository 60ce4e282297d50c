#!/usr/bin/env node
// Plain JavaScript so that an unsupported Node gets a clear message instead of a syntax error.
//
// Runs the compiled CLI in dist/ (built by `npm run build`, which `npm install` runs as `prepare`)
// when it is at least as new as every source file; otherwise the TypeScript sources directly,
// through Node's type stripping. The build saves a node about 25 MB of idle RSS and its start-up
// compile; the fallback keeps a checkout whose dist/ is missing or older than an edit working.
// PEERFLOW_FROM_SOURCE=1 forces the sources.
import { readdirSync, statSync } from 'node:fs'

const root = new URL('../../', import.meta.url)
const BUILT_CLI = new URL('dist/node/cli/main.js', root)
const BUILD_STAMP = new URL('dist/.build-stamp', root)
const BUILT_FROM = ['node/', 'protocols/', 'crdt/', 'src/', 'package.json', 'bootstrap.json']

/**
 * V8 flags for a long-running node (`peerflow start`), overridable with PEERFLOW_NODE_FLAGS
 * (space-separated; empty for none). V8 otherwise grows the young generation to 64 MiB
 * semi-spaces under a node's steady trickle of allocations: about 45 MB of idle RSS
 * (docs/BENCHMARKS.md, bench:node).
 */
const NODE_FLAGS = (process.env.PEERFLOW_NODE_FLAGS ?? '--max-semi-space-size=8').split(' ').filter((flag) => flag !== '')

/** Newest modification time under `url` (a file, or a directory walked recursively). */
function newestChange (url) {
  const stats = statSync(url, { throwIfNoEntry: false })
  if (stats === undefined) return 0
  if (!stats.isDirectory()) return stats.mtimeMs
  let newest = stats.mtimeMs
  for (const entry of readdirSync(url, { withFileTypes: true })) {
    const child = new URL(entry.isDirectory() ? `${entry.name}/` : entry.name, url)
    newest = Math.max(newest, newestChange(child))
  }
  return newest
}

function builtCliIsCurrent () {
  if (process.env.PEERFLOW_FROM_SOURCE === '1') return false
  const built = statSync(BUILD_STAMP, { throwIfNoEntry: false })?.mtimeMs
  if (built === undefined) return false
  return BUILT_FROM.every((path) => newestChange(new URL(path, root)) <= built)
}

// Flags like these only take effect when the process starts: re-execute this same process (same
// pid, stdio and environment) with them. Where execve is not available the node runs without them.
const flagsMissing = NODE_FLAGS.some((flag) => !process.execArgv.includes(flag))
if (process.argv[2] === 'start' && flagsMissing && typeof process.execve === 'function' && process.platform !== 'win32') {
  process.execve(process.execPath, [process.execPath, ...NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)], process.env)
}

if (builtCliIsCurrent()) {
  await import(BUILT_CLI.href)
} else {
  const typeScript = process.features && process.features.typescript
  if (!typeScript) {
    process.stderr.write(`peerflow: needs Node.js 22.18 or newer (this is ${process.version}), or a current build ('npm run build'). ` +
      "Run it through npm ('npm start', 'npx peerflow') to use the project's pinned Node 24, or install Node 24.\n")
    process.exit(1)
  }
  await import('../cli/main.ts')
}
