#!/usr/bin/env node
// Plain JavaScript so that an unsupported Node gets a clear message instead of a syntax error.
const typeScript = process.features && process.features.typescript
if (!typeScript) {
  process.stderr.write(`peerflow: needs Node.js 22.18 or newer (this is ${process.version}). ` +
    "Run it through npm ('npm start', 'npx peerflow') to use the project's pinned Node 24, or install Node 24.\n")
  process.exit(1)
}
await import('../cli/main.ts')
