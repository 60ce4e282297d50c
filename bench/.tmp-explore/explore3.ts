import { multiaddr } from '@multiformats/multiaddr'
import { TestNetwork, quicAddr, waitFor, isConnected } from '../../test/helpers/nodes.ts'
const net = new TestNetwork()
const never = new AbortController().signal
const N = Number(process.argv[2] ?? 10000)
const cfg = { embedder: 'hash' as const }
const a = await net.start(cfg)
const cDir = await net.dataDir()
let c = await net.start(cfg, cDir)
await c.join(multiaddr(quicAddr(a)), never)
await a.memory.put('bulk', 'first', 1, { author: a.peerId })
await waitFor('first', () => c.memory.get('bulk', 'first') !== undefined)
await c.stop()
let t = Date.now()
const B = 2000
for (let i = 0; i < N; i += B) await Promise.all(Array.from({ length: Math.min(B, N - i) }, (_, j) => a.memory.put('bulk', `k${i + j}`, { i: i + j, text: 'some value' }, { author: a.peerId })))
console.log('write', N, Date.now() - t)
t = Date.now()
c = await net.start(cfg, cDir)
console.log('restart', Date.now() - t, c.memory.list('bulk').length)
const before = { ...a.replication.stats }
t = Date.now()
await c.join(multiaddr(quicAddr(a)), never)
await waitFor('bulk', () => c.memory.list('bulk').length === N + 1, 40000, 20)
console.log('catch-up', Date.now() - t, a.replication.stats, before, c.replication.stats)
await net.cleanup()
