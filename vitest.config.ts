import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Multi-node suites spawn node processes and time elections and failovers: one file at a time
    // keeps a 2-core machine from starving their timers (the whole suite stays within minutes).
    maxWorkers: 1,
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default', './test/helpers/summary-reporter.ts']
  }
})
