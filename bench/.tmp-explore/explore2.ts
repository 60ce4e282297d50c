import { multiaddr } from '@multiformats/multiaddr'
import { TestNetwork, quicAddr, waitFor, isConnected } from '../../test/helpers/nodes.ts'
const net = new TestNetwork()
const never = new AbortController().signal
let t = Date.now()
const [a, b, c] = await Promise.all([net.start({ embedder: 'hash' }), net.start({ embedder: 'hash' }), net.start({ embedder: 'hash' })])
await b.join(multiaddr(quicAddr(a)), never)
await c.join(multiaddr(quicAddr(a)), never)
await waitFor('mesh', () => isConnected(b, c))
await new Promise(r => setTimeout(r, 1500))
const sizes: number[] = []
a.host.services.pubsub.addEventListener('gossipsub:message' as any, () => {})
const origPublish = a.host.services.pubsub.publish.bind(a.host.services.pubsub)
;(a.host.services.pubsub as any).publish = (topic: string, data: Uint8Array) => { sizes.push(data.byteLength); return origPublish(topic, data) }
t = Date.now()
const N = 10000
const B = Number(process.argv[2] ?? 1000)
for (let i = 0; i < N; i += B) await Promise.all(Array.from({ length: B }, (_, j) => a.memory.put('shared-knowledge', `k${i + j}`, i + j, { author: a.peerId })))
console.log('write 10k', Date.now() - t)
await waitFor('bulk', () => b.memory.list('shared-knowledge').length === N && c.memory.list('shared-knowledge').length === N, 60000, 50)
console.log('bulk rep', Date.now() - t, a.replication.stats, b.replication.stats, c.replication.stats)
console.log(sizes)
await net.cleanup()
