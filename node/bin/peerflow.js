#!/usr/bin/env node
// Plain JavaScript so that an unsupported Node gets a clear message instead of a syntax error.
//
// Runs the compiled CLI in dist/ (built by `npm run build`, which `npm install` runs as `prepare`)
// when it is at least as new as every source file; otherwise the TypeScript sources directly,
// through Node's type stripping. The build saves a node about 25 MB of idle RSS and its start-up
// compile; the fallback keeps a checkout whose dist/ is missing or older than an edit working.
// PEERFLOW_FROM_SOURCE=1 forces the sources.
import { BUILT_CLI, builtCliIsCurrent } from './built-cli.js'
import { nodeFlags, reexecWithFlags } from './node-flags.js'

if (process.argv[2] === 'start') reexecWithFlags(nodeFlags())

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
