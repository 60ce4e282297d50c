import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { frozenFor } from '../node/net/resume-detector.ts'
import { pollFor } from './helpers/swarm-cluster.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/resume-detector-main.ts', import.meta.url))

describe('resume detector', () => {
  it('tells a freeze from an ordinary late tick and from a tick delayed by its own work', () => {
    expect(frozenFor(1_000, 1_040, 0)).toBeUndefined()
    expect(frozenFor(1_000, 2_499, 0)).toBeUndefined()
    expect(frozenFor(1_000, 2_500, 0)).toBe(1_500)
    expect(frozenFor(1_000, 61_000, 5)).toBe(60_000)
    // Busy for the whole gap: the process ran, nobody stopped it.
    expect(frozenFor(1_000, 4_000, 2_900)).toBeUndefined()
  })

  it('reports a process stopped with SIGSTOP once it continues, with how long it was stopped, at most once per 10 s', async () => {
    const child = spawn(process.execPath, [FIXTURE], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    try {
      await pollFor('the process to start', () => output.includes('ready') ? true : undefined, 60_000, 50)
      // Let a few ordinary ticks pass first.
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      child.kill('SIGSTOP')
      await new Promise((resolve) => setTimeout(resolve, 3_000))
      child.kill('SIGCONT')
      const reported = await pollFor('a resume report', () => /resumed (\d+)/.exec(output)?.[1], 10_000, 50)
      expect(Number(reported)).toBeGreaterThanOrEqual(2_500)
      expect(Number(reported)).toBeLessThan(10_000)
      // Frozen again within 10 s (as a process starved of CPU looks, tick after tick): not reported again.
      child.kill('SIGSTOP')
      await new Promise((resolve) => setTimeout(resolve, 2_000))
      child.kill('SIGCONT')
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      expect(output.match(/resumed \d+/g)).toHaveLength(1)
    } finally {
      child.kill('SIGKILL')
    }
  }, 90_000)
})
