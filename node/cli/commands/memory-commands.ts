import { NAMESPACES } from '../../../crdt/index.ts'
import type { Command } from 'commander'
import { clientFor, withApi, type ReadOptions } from '../api-options.ts'
import type { EntryReply, JsonValue, MemoryListReply } from '../../api/types.ts'
import { CliError } from '../client.ts'
import { parseDuration } from '../duration.ts'
import { importEntries } from './memory-import.ts'
import { formatDuration, printJson, printTable, shortPeerId } from '../output.ts'

const DEFAULT_NAMESPACE = NAMESPACES.sharedKnowledge


interface NamespaceOption extends ReadOptions { namespace: string }

function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

function showValue (value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function path (namespace: string, key?: string): string {
  return `/memory/${encodeURIComponent(namespace)}${key === undefined ? '' : `/${encodeURIComponent(key)}`}`
}

/** `peerflow memory …`: the replicated key-value memory. */
export function registerMemoryCommands (program: Command): void {
  const memory = program.command('memory').description('replicated memory: namespaced entries shared by every node')
  const namespaced = (command: Command): Command => withApi(command).option('-n, --namespace <name>', 'namespace', DEFAULT_NAMESPACE)

  namespaced(memory.command('store').argument('<key>').argument('<value>')
    .description('store a value (returns once it is durable on this node; replicas receive it by gossip)'))
    .option('--ttl <duration>', 'expire after this long, e.g. 30m, 24h, 7d (default: the namespace policy)')
    .option('--tag <tag>', 'tag the entry, repeatable', collect)
    .option('--json-value', 'parse <value> as JSON instead of storing it as a string')
    .action(async (key: string, value: string, options: NamespaceOption & { ttl?: string, tag?: string[], jsonValue?: boolean }) => {
      let parsed: JsonValue = value
      if (options.jsonValue === true) {
        try { parsed = JSON.parse(value) as JsonValue } catch { throw new CliError(`--json-value: '${value}' is not JSON`, 2) }
      }
      const ttlMs = options.ttl === undefined ? undefined : parseDuration(options.ttl, '--ttl')
      const entry = await clientFor(options).memory.put(options.namespace, key, parsed, { ttlMs, tags: options.tag ?? [] })
      if (options.json === true) return printJson(entry)
      const expiry = entry.expiresAt === undefined ? '' : `, expires in ${formatDuration(entry.expiresAt - Date.now())}`
      process.stdout.write(`stored ${options.namespace}/${key}${expiry}\n`)
    })

  namespaced(memory.command('import').argument('<file>')
    .description('write a JSON Lines file of {"key","value","ttlMs"?,"tags"?} objects, in batches each written whole or not at all'))
    .action(async (file: string, options: NamespaceOption) => {
      const done = await importEntries(clientFor(options), options.namespace, file, ({ imported, total }) => {
        if (options.json !== true) process.stderr.write(`imported ${imported}/${total}\n`)
      })
      if (options.json === true) return printJson(done)
      process.stdout.write(`imported ${done.imported} entries into ${options.namespace}\n`)
    })

  namespaced(memory.command('get').argument('<key>').description('print a value'))
    .action(async (key: string, options: NamespaceOption) => {
      const reply = await clientFor(options).api.request<EntryReply>('GET', path(options.namespace, key))
      if (options.json === true) return printJson(reply.entry)
      process.stdout.write(`${showValue(reply.entry.value)}\n`)
    })

  namespaced(memory.command('list').description('list entries'))
    .option('--prefix <prefix>', 'only keys starting with this')
    .action(async (options: NamespaceOption & { prefix?: string }) => {
      const reply = await clientFor(options).api.request<MemoryListReply>('GET', path(options.namespace), { query: { prefix: options.prefix } })
      if (options.json === true) return printJson(reply)
      printTable(reply.entries, [
        { header: 'key', value: (entry) => entry.key },
        { header: 'value', value: (entry) => truncate(showValue(entry.value), 60) },
        { header: 'author', value: (entry) => shortPeerId(entry.author) },
        { header: 'updated', value: (entry) => `${formatDuration(Date.now() - entry.updatedAt)} ago` },
        { header: 'expires', value: (entry) => entry.expiresAt === undefined ? '-' : `in ${formatDuration(entry.expiresAt - Date.now())}` },
        { header: 'tags', value: (entry) => entry.tags.join(',') }
      ], `no entries in ${options.namespace}`)
    })

  namespaced(memory.command('delete').argument('<key>').description('delete an entry everywhere'))
    .action(async (key: string, options: NamespaceOption) => {
      const reply = { deleted: await clientFor(options).memory.delete(options.namespace, key) }
      if (options.json === true) return printJson(reply)
      if (!reply.deleted) throw new CliError(`no entry '${key}' in namespace '${options.namespace}'`)
      process.stdout.write(`deleted ${options.namespace}/${key}\n`)
    })

  withApi(memory.command('namespaces').description('namespaces: entries, bytes, TTL policy, last update, replicas in sync'))
    .action(async (options: ReadOptions) => {
      const reply = await clientFor(options).memory.namespaces()
      if (options.json === true) return printJson(reply)
      printTable(reply.namespaces, [
        { header: 'namespace', value: (row) => row.name },
        { header: 'entries', value: (row) => String(row.entries) },
        { header: 'bytes', value: (row) => String(row.bytes) },
        { header: 'ttl', value: (row) => row.defaultTtlMs === undefined ? '-' : formatDuration(row.defaultTtlMs) },
        { header: 'last update', value: (row) => row.lastUpdate === null ? '-' : `${formatDuration(Date.now() - row.lastUpdate)} ago` },
        { header: 'in sync', value: (row) => `${row.replicasInSync}/${row.peers} peers` }
      ], 'no namespaces')
    })
}

function truncate (text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text
}
