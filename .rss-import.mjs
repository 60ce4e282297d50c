const mods = process.argv.slice(2)
const base = process.memoryUsage().rss
for (const m of mods) await import(m)
globalThis.gc?.()
const mu = process.memoryUsage()
console.log(mods.join(' ').slice(-60).padEnd(60), ((mu.rss - base)/1e6).toFixed(1), 'MB rss delta; heap', (mu.heapUsed/1e6).toFixed(1), 'ext', (mu.external/1e6).toFixed(1))
