/** V8 flags a long-running node runs with (PEERFLOW_NODE_FLAGS overrides them). */
export declare function nodeFlags (env?: NodeJS.ProcessEnv): string[]
/** Re-executes this process with `flags` when any is missing (where execve is available). */
export declare function reexecWithFlags (flags: string[]): void
