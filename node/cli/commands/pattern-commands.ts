import type { Command } from 'commander'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import { CliError } from '../client.ts'
import { formatDuration, printJson, printTable } from '../output.ts'
import type { ListSort, PatternStatsReply, QueryMatch } from '../../api/types.ts'

// Types only: erased at run time, so the CLI still loads no ReasoningBank code.
function fraction (text: string, option: string): number {
  const value = Number(text)
  if (!(value >= 0 && value <= 1)) throw new CliError(`${option}: expected a number from 0 to 1, got '${text}'`, 2)
  return value
}

function positiveInt (text: string, option: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) throw new CliError(`${option}: expected a positive integer, got '${text}'`, 2)
  return value
}

function explainText (match: QueryMatch): string {
  const parts = match.explain
  if (parts === undefined) return '-'
  const { weighted } = parts
  return `${weighted.similarity.toFixed(2)} + ${weighted.confidence.toFixed(2)} + ${weighted.recency.toFixed(2)}; ${parts.idleDays.toFixed(1)} d`
}

/** `peerflow patterns …`: the ReasoningBank. */
export function registerPatternCommands (program: Command): void {
  const patterns = program.command('patterns').description('ReasoningBank: learned patterns, searched by meaning')

  withApi(patterns.command('store').argument('<name>').argument('<content>').description('store a pattern (replicated to every node)'))
    .option('-n, --namespace <name>', 'pattern namespace, e.g. security', 'general')
    .option('--confidence <0..1>', 'initial confidence')
    .action(async (name: string, content: string, options: ReadOptions & { namespace: string, confidence?: string }) => {
      const confidence = options.confidence === undefined ? undefined : fraction(options.confidence, '--confidence')
      const pattern = await clientFor(options).patterns.store({ name, content, namespace: options.namespace, confidence })
      if (options.json === true) return printJson(pattern)
      process.stdout.write(`stored pattern ${pattern.name} in ${pattern.namespace} (confidence ${pattern.confidence.toFixed(2)})\n`)
    })

  withApi(patterns.command('query').argument('<question>').description('the patterns closest in meaning to a question'))
    .option('-n, --namespace <name>', 'only this pattern namespace')
    .option('--min-confidence <0..1>', 'skip patterns below this confidence')
    .option('--limit <n>', 'results wanted', '5')
    .option('--explain', 'show the parts of each score')
    .action(async (question: string, options: ReadOptions & { namespace?: string, minConfidence?: string, limit: string, explain?: boolean }) => {
      const reply = await clientFor(options).patterns.query({
        question,
        namespace: options.namespace,
        minConfidence: options.minConfidence === undefined ? undefined : fraction(options.minConfidence, '--min-confidence'),
        limit: positiveInt(options.limit, '--limit'),
        explain: options.explain === true
      })
      if (options.json === true) return printJson(reply)
      printTable(reply.matches, [
        { header: 'score', value: (m) => m.score.toFixed(2) },
        { header: 'similarity', value: (m) => m.similarity.toFixed(2) },
        { header: 'confidence', value: (m) => m.pattern.confidence.toFixed(2) },
        { header: 'uses', value: (m) => String(m.pattern.uses) },
        { header: 'name', value: (m) => m.pattern.name },
        { header: 'namespace', value: (m) => m.pattern.namespace },
        ...(options.explain === true ? [{ header: 'explain (weighted: similarity + confidence + recency; idle days)', value: (m: QueryMatch) => explainText(m) }] : [])
      ], 'no matching patterns')
      process.stdout.write(`(${reply.embedder}, ${reply.tookMs.toFixed(1)} ms)\n`)
    })

  withApi(patterns.command('list').description('list patterns'))
    .option('-n, --namespace <name>', 'only this pattern namespace')
    .option('--sort <order>', 'confidence | uses | recent', 'confidence')
    .action(async (options: ReadOptions & { namespace?: string, sort: string }) => {
      const reply = { patterns: await clientFor(options).patterns.list({ namespace: options.namespace, sort: options.sort as ListSort }) }
      if (options.json === true) return printJson(reply)
      printTable(reply.patterns, [
        { header: 'confidence', value: (p) => p.confidence.toFixed(2) },
        { header: 'uses', value: (p) => String(p.uses) },
        { header: 'name', value: (p) => p.name },
        { header: 'namespace', value: (p) => p.namespace },
        { header: 'last used', value: (p) => `${formatDuration(Date.now() - p.lastUsedAt)} ago` }
      ], 'no patterns')
    })

  withApi(patterns.command('stats').description('totals, namespaces, most retrieved, confidence histogram, embedder'))
    .action(async (options: ReadOptions) => {
      const stats = await clientFor(options).patterns.stats()
      if (options.json === true) return printJson(stats)
      const lines = [
        `patterns: ${stats.patterns} (${stats.indexed} indexed${stats.unindexed > 0 ? `, ${stats.unindexed} from another embedder, not searchable` : ''})`,
        `index: ${indexLine(stats.index)}`,
        `embedder: ${stats.embedder.id}, ${stats.embedder.dimensions}-d, ${stats.embedder.semantic ? 'semantic' : 'lexical (NOT semantic)'}`,
        `outcomes: ${stats.totals.successes} succeeded, ${stats.totals.failures} failed; retrievals here: ${stats.totals.retrievals}`,
        'per namespace:',
        ...stats.namespaces.map((n) => `  ${n.namespace}: ${n.patterns} patterns, mean confidence ${n.meanConfidence.toFixed(2)}`),
        `most retrieved: ${stats.mostRetrieved.map((m) => `${m.name} (${m.retrievals})`).join(', ') || '-'}`,
        'confidence histogram:',
        ...stats.confidenceHistogram.map((count, i) => `  ${(i / 10).toFixed(1)}-${((i + 1) / 10).toFixed(1)}  ${'#'.repeat(Math.min(count, 60))} ${count}`)
      ]
      process.stdout.write(`${lines.join('\n')}\n`)
    })

  withApi(patterns.command('forget').argument('<name>').description('delete a pattern everywhere'))
    .action(async (name: string, options: ReadOptions) => {
      const reply = { forgotten: await clientFor(options).patterns.forget(name) }
      if (options.json === true) return printJson(reply)
      process.stdout.write(`forgot ${name}\n`)
    })

  withApi(patterns.command('consolidate').description('merge near-duplicates and prune long-unused, low-confidence patterns'))
    .option('--dry-run', 'show the plan without changing anything')
    .action(async (options: ReadOptions & { dryRun?: boolean }) => {
      const reply = await clientFor(options).patterns.consolidate({ dryRun: options.dryRun === true })
      if (options.json === true) return printJson(reply)
      printJson(reply)
    })
}

/** The index's state and which search answers queries now. */
function indexLine (index: PatternStatsReply['index']): string {
  const graph = index.kind === 'hnsw-int8' ? 'int8 graph' : `float32, ${index.shards} shard${index.shards === 1 ? '' : 's'}`
  const search = (index.search === 'hnsw'
    ? `HNSW search, ${graph}, ef ${index.ef}`
    : index.search === 'exact-int8' ? 'exact search over int8 vectors' : 'exact search') + (index.note === undefined ? '' : `; ${index.note}`)
  switch (index.state) {
    case 'ready': return `ready (${search})`
    case 'building': return `building ${index.done}/${index.total} (${search} meanwhile)`
    case 'failed': return `build failed: ${index.reason} (${search})`
  }
}
