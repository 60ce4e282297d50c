import v8 from 'node:v8'
setTimeout(() => {
  const m = process.memoryUsage()
  process.stderr.write(`MEM rss ${(m.rss/1e6).toFixed(1)} heapTotal ${(m.heapTotal/1e6).toFixed(1)} heapUsed ${(m.heapUsed/1e6).toFixed(1)}\n`)
  for (const s of v8.getHeapSpaceStatistics()) process.stderr.write(`MEM ${s.space_name} size ${(s.space_size/1e6).toFixed(1)} used ${(s.space_used_size/1e6).toFixed(1)} phys ${(s.physical_space_size/1e6).toFixed(1)}\n`)
}, Number(process.env.MEM_AT ?? 25000)).unref()
