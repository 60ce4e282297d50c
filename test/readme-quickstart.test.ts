import { spawn } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DATA_DIRS = ['pf-a', 'pf-b', 'pf-c']

/** The shell block under the README's "Quickstart" heading, exactly as a reader would paste it. */
async function quickstartScript (): Promise<string> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('## Quickstart'))
  const block = /```sh\n([\s\S]*?)```/.exec(section)
  if (block?.[1] === undefined) throw new Error('README has no ```sh block under "## Quickstart"')
  return block[1]
}

describe('the README quickstart', () => {
  afterAll(async () => {
    await Promise.all(DATA_DIRS.map(async (dir) => { await rm(new URL(`../${dir}`, import.meta.url), { recursive: true, force: true }) }))
  })

  it('runs verbatim from the project root: three nodes, C learns B through A', async () => {
    const script = await quickstartScript()
    // Verbatim, then stop the nodes it left in the background and wait for them to exit. With job
    // control each background job is a process group, so the signal reaches the node under npx too.
    const stopJobs = 'for job in $(jobs -p); do kill -TERM -- "-$job"; done\nwait'
    const child = spawn('bash', ['-c', `set -em\n${script}\n${stopJobs}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    clearTimeout(timer)
    expect(code, `stderr:\n${stderr}\nstdout:\n${stdout}`).toBe(0)
    // `peers` on C: a table whose rows end in each peer's address; A and B (B learned through peer exchange).
    const lines = stdout.split('\n')
    const header = lines.findIndex((line) => /^peer\s+admitted\s+transport/.test(line))
    expect(header, stdout).toBeGreaterThanOrEqual(0)
    const rows = lines.slice(header + 1).filter((line) => /\/p2p\/12D3KooW\w{40,}$/.test(line))
    expect(new Set(rows.map((row) => /\/p2p\/(12D3KooW\w+)$/.exec(row)?.[1])).size).toBe(2)
    // `status` on B: it holds A and C.
    expect(stdout).toMatch(/peers:\s+2/)
  }, 120_000)
})
