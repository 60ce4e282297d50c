import { multiaddr } from '@multiformats/multiaddr'
import { TestNetwork, quicAddr, waitFor, isConnected } from '../../test/helpers/nodes.ts'
const net = new TestNetwork()
const never = new AbortController().signal
let t = Date.now()
const [a, b, c] = await Promise.all([net.start({ embedder: 'hash' }), net.start({ embedder: 'hash' }), net.start({ embedder: 'hash' })])
console.log('start', Date.now() - t, a.memory.namespaces().map(n => n.name)); t = Date.now()
await b.join(multiaddr(quicAddr(a)), never)
await c.join(multiaddr(quicAddr(a)), never)
await waitFor('mesh', () => isConnected(b, c))
console.log('mesh', Date.now() - t); t = Date.now()
await a.memory.put('shared-knowledge', 'k1', 'v1', { author: a.peerId })
await waitFor('rep', () => b.memory.get('shared-knowledge', 'k1') !== undefined && c.memory.get('shared-knowledge', 'k1') !== undefined)
console.log('rep1', Date.now() - t); t = Date.now()
await a.memory.put('newns', 'k1', 'v1', { author: a.peerId })
await waitFor('rep', () => b.memory.get('newns', 'k1') !== undefined && c.memory.get('newns', 'k1') !== undefined)
console.log('newns', Date.now() - t); t = Date.now()
const N = 10000
for (let i = 0; i < N; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => a.memory.put('bulk', `k${i + j}`, i + j, { author: a.peerId })))
console.log('write 10k', Date.now() - t)
await waitFor('bulk', () => b.memory.list('bulk').length === N && c.memory.list('bulk').length === N, 60000, 50)
console.log('bulk rep', Date.now() - t, a.replication.stats, b.replication.stats)
await net.cleanup()
