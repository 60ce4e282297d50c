import { access, constants, rm } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { defaults } from '../node/config/config.ts'
import { taskLayerOf } from '../node/api/dashboard/overview.ts'
import type { PeerflowNode } from '../node/core/peerflow-node.ts'
import { startAnthropicServer, type AnthropicServer } from './fixtures/anthropic-server.ts'
import { quicAddr, tempDir, TestNetwork, waitFor } from './helpers/nodes.ts'

/** The Debian package's browser; .ci/run installs it. */
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]

const net = new TestNetwork()
const never = new AbortController().signal
let model: AnthropicServer
let browser: BrowserContext | undefined
let profile: string | undefined

/** Launched on first use, inside the test: a missing browser fails the test rather than skipping it. */
async function openBrowser (): Promise<BrowserContext> {
  if (browser !== undefined) return browser
  try {
    await access(CHROMIUM, constants.X_OK)
  } catch {
    throw new Error(`the dashboard test needs headless Chromium at ${CHROMIUM}: install it with 'apt-get install chromium' (npm test does, as root)`)
  }
  profile = await tempDir('peerflow-chromium-')
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS })
  return browser
}

beforeAll(async () => { model = await startAnthropicServer({ latencyMs: 50 }) })

afterAll(async () => {
  await browser?.close()
  await model.close()
  if (profile !== undefined) await rm(profile, { recursive: true, force: true })
})

afterEach(async () => { await net.cleanup() })

async function startNode (): Promise<PeerflowNode> {
  return net.start({ embedder: 'hash', agents: { ...defaults('.').agents, heartbeatMs: 100, workerTimeoutMs: 1_000, baseUrl: model.url } })
}

/** The task layer through the control API, so that this suite does not depend on its types. */
async function submitTask (node: PeerflowNode, swarm: string, prompt: string): Promise<string> {
  const response = await fetch(`http://${node.apiAddress}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ swarm, prompt }) })
  const reply = await response.json() as { id?: string, error?: string }
  if (reply.id === undefined) throw new Error(`task not submitted: ${reply.error ?? response.status}`)
  return reply.id
}

async function textOf (page: Page, selector: string): Promise<string> {
  return page.locator(selector).innerText()
}

describe('the dashboard in headless Chromium', () => {
  it('shows peers, swarms, tasks, memory and patterns, and follows changes live without a reload', async () => {
    const context = await openBrowser()
    const a = await startNode()
    const b = await startNode()
    await b.join(multiaddr(quicAddr(a)), never)
    await a.swarms.init('ops', 'hierarchical', 8, [])
    await waitFor('swarm ops known on B', () => b.swarms.list().some((swarm) => swarm.name === 'ops'))
    await b.swarms.join('ops', [])
    await waitFor('B seated in swarm ops', () => a.swarms.status('ops').members.length === 2 && b.swarms.member('ops')?.leader === a.peerId)
    const hasTasks = taskLayerOf(a) !== undefined
    const firstTask = hasTasks ? await submitTask(a, 'ops', 'list the peers of this swarm') : undefined

    const page = await context.newPage()
    const origin = `http://${a.apiAddress}`
    const foreign: string[] = []
    const problems: string[] = []
    page.on('request', (request) => { if (!request.url().startsWith(`${origin}/`) && !request.url().startsWith('data:')) foreign.push(request.url()) })
    page.on('pageerror', (err) => { problems.push(err.message) })
    page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
    await page.goto(`${origin}/`)
    expect(await page.title()).toMatch(/peerflow/)

    await page.locator('#link.live').waitFor({ timeout: 10_000 })
    await page.getByText(b.peerId).first().waitFor({ timeout: 10_000 })
    expect(await textOf(page, '#identity')).toContain(a.peerId)
    expect(await textOf(page, '#peers')).toMatch(/quic/)
    expect(await textOf(page, '#swarms')).toMatch(/ops\s+hierarchical · term \d+ · 2\/2 healthy/)
    expect(await textOf(page, '#patterns')).toMatch(/patterns/)
    if (firstTask !== undefined) {
      await page.locator('#tasks', { hasText: firstTask }).waitFor({ timeout: 10_000 })
      await page.locator('#tasks tr', { hasText: firstTask }).getByText('done').waitFor({ timeout: 30_000 })
      await page.locator('#chart-title', { hasText: 'Task throughput' }).waitFor({ timeout: 10_000 })
    } else {
      expect(await textOf(page, '#tasks')).toContain('no task layer on this node')
    }

    // Everything below must arrive over the open event stream: mark the page to prove no reload.
    await page.evaluate(() => { (window as unknown as { dashboardMark: string }).dashboardMark = 'still this page' })
    const entriesCell = page.locator('#memory tr', { hasText: 'shared-knowledge' }).locator('td').nth(1)
    expect(await entriesCell.innerText()).toBe('0')
    await b.memory.put('shared-knowledge', 'written-during-the-test', 'live', { author: b.peerId })
    await page.locator('#memory tr', { hasText: 'shared-knowledge' }).locator('td').nth(1).getByText('1', { exact: true }).waitFor({ timeout: 10_000 })

    const c = await startNode()
    await c.join(multiaddr(quicAddr(a)), never)
    await page.locator('#peers').getByText(c.peerId, { exact: true }).waitFor({ timeout: 10_000 })
    expect(await textOf(page, '#peer-count')).toBe('(2)')

    if (hasTasks) {
      const secondTask = await submitTask(b, 'ops', 'say hello to the new peer')
      await page.locator('#tasks', { hasText: secondTask }).waitFor({ timeout: 10_000 })
    }
    expect(await page.evaluate(() => (window as unknown as { dashboardMark?: string }).dashboardMark)).toBe('still this page')
    expect(foreign).toEqual([])
    expect(problems).toEqual([])
    await page.close()
  })

  it('serves its page, script and style from the node itself, under a policy that forbids other origins', async () => {
    const a = await startNode()
    const page = await (await fetch(`http://${a.apiAddress}/`)).text()
    expect(page).toMatch(/^<!doctype html>/i)
    expect(page).toContain("default-src 'none'")
    expect(page).not.toMatch(/https?:\/\//)
    for (const [path, type] of [['/dashboard/app.js', 'text/javascript'], ['/dashboard/style.css', 'text/css']] as const) {
      const response = await fetch(`http://${a.apiAddress}${path}`)
      expect(response.headers.get('content-type')).toContain(type)
      expect(await response.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/)
    }
    const crossOrigin = await fetch(`http://${a.apiAddress}/events`, { headers: { origin: 'http://evil.example' } })
    expect(crossOrigin.status).toBe(403)
  })
})
