#!/usr/bin/env node
// Plain JavaScript so that an unsupported Node gets a clear message instead of a syntax error.
//
// Runs the compiled CLI in dist/ (built by `npm run build`, which `npm install` runs as `prepare`)
// when it is at least as new as every source file; otherwise the TypeScript sources directly,
// through Node's type stripping. The build saves a node about 25 MB of idle RSS and its start-up
// compile; the fallback keeps a checkout whose dist/ is missing or older than an edit working.
// PEERFLOW_FROM_SOURCE=1 forces the sources.
import { BUILT_CLI, builtCliIsCurrent } from './built-cli.js'

/**
 * V8 flags for a long-running node (`peerflow start`), overridable with PEERFLOW_NODE_FLAGS
 * (space-separated; empty for none). V8 otherwise grows the young generation to 64 MiB
 * semi-spaces under a node's steady trickle of allocations: about 45 MB of idle RSS
 * (docs/BENCHMARKS.md, bench:node).
 */
const NODE_FLAGS = (process.env.PEERFLOW_NODE_FLAGS ?? '--max-semi-space-size=8').split(' ').filter((flag) => flag !== '')

// Flags like these only take effect when the process starts: re-execute this same process (same
// pid, stdio and environment) with them. Where execve is not available the node runs without them.
const flagsMissing = NODE_FLAGS.some((flag) => !process.execArgv.includes(flag))
if (process.argv[2] === 'start' && flagsMissing && typeof process.execve === 'function' && process.platform !== 'win32') {
  process.execve(process.execPath, [process.execPath, ...NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)], process.env)
}

if (process.env.PEERFLOW_FROM_SOURCE !== '1' && builtCliIsCurrent()) {
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
