import type { Reporter, TestModule } from 'vitest/node'

/** Ends the run with one plain line, `N passed, N failed, N skipped`, that any log reader understands. */
export default class SummaryReporter implements Reporter {
  onTestRunEnd (testModules: ReadonlyArray<TestModule>): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const module of testModules) {
      // A file whose setup failed leaves its tests unrun: they count as failed, not skipped.
      const moduleFailed = module.state() === 'failed'
      let counted = 0
      for (const test of module.children.allTests()) {
        counted++
        const state = test.result().state
        if (state === 'passed') passed++
        else if (state === 'failed' || moduleFailed) failed++
        else skipped++
      }
      if (moduleFailed && counted === 0) failed++
    }
    process.stdout.write(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
  }
}
