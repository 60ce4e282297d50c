import type { Command } from 'commander'
import type { ModelsReport } from '../../api/types.ts'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import { printJson } from '../output.ts'

/** `peerflow models`: how this node routes model calls by priority, and which endpoints answer. */
export function registerModelCommands (program: Command): void {
  withApi(program.command('models').description('the model routing table by priority (quality, balanced, cost, speed, privacy), prices, and which endpoints answer'))
    .action(async (options: ReadOptions) => {
      const report = await clientFor(options).models()
      if (options.json === true) return printJson(report)
      const lines = ['routes (tried in order; the next on 429/529 or an unknown model):']
      for (const route of report.routes) {
        if (route.error !== null) {
          lines.push(`  ${route.priority.padEnd(8)}  none: ${route.error}`)
          continue
        }
        const steps = route.steps.map((step) => {
          const price = step.price === null ? 'no price' : `$${step.price.inputPerMTok}/$${step.price.outputPerMTok} per MTok`
          return `${step.endpoint}:${step.model} (${price}${step.local ? ', local' : ''})`
        })
        lines.push(`  ${route.priority.padEnd(8)}  ${steps.join(' -> ')}`)
      }
      lines.push('endpoints:')
      for (const endpoint of report.endpoints) {
        const state = endpoint.answers ? `answers (HTTP ${endpoint.status ?? '?'}, ${endpoint.latencyMs ?? '?'} ms)` : `does not answer: ${endpoint.error ?? '?'}`
        lines.push(`  ${endpoint.name}  ${endpoint.url}${endpoint.local ? '  [local]' : ''}  ${endpoint.hasKey ? 'key set' : 'no key'}  ${state}`)
      }
      if (!report.configured) lines.push('no model provider configured: set ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL, or models in peerflow.json')
      process.stdout.write(`${lines.join('\n')}\n`)
    })
}
