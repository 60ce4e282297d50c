// Plain JavaScript: the CLI's launcher imports it before it knows whether Node can strip types.

/**
 * V8 flags for a long-running node (`peerflow start`), overridable with PEERFLOW_NODE_FLAGS
 * (space-separated; empty for none). V8 otherwise grows the young generation to 64 MiB
 * semi-spaces under a node's steady trickle of allocations: about 45 MB of idle RSS
 * (docs/BENCHMARKS.md, bench:node). Large semi-spaces also slowed bulk catch-up, where nearly
 * every young object survives into the doc (bench:memory).
 */
export function nodeFlags (env = process.env) {
  return (env.PEERFLOW_NODE_FLAGS ?? '--max-semi-space-size=8').split(' ').filter((flag) => flag !== '')
}

/**
 * Flags like these only take effect when the process starts: re-executes this same process (same
 * pid, stdio and environment) with `flags` when any is missing. Where execve is not available the
 * process goes on without them.
 */
export function reexecWithFlags (flags) {
  const missing = flags.some((flag) => !process.execArgv.includes(flag))
  if (missing && typeof process.execve === 'function' && process.platform !== 'win32') {
    process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], process.env)
  }
}
