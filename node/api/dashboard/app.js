// The dashboard: renders the overview the node pushes over server-sent events (GET /events).
// Everything shown comes from peers, so it goes into the page as text nodes, never as markup.

const SVG = 'http://www.w3.org/2000/svg'
/** Gossip rates are drawn over this window. */
const GOSSIP_WINDOW_MS = 120_000
/** Gossip rates are computed over spans of about a second (overviews arrive every second, give or take). */
const GOSSIP_SAMPLE_MS = 900

/** Overviews seen, for rates: [{ at, sent, received }], oldest first. */
const gossipSamples = []

function byId (id) {
  const found = document.getElementById(id)
  if (found === null) throw new Error(`the page has no #${id}`)
  return found
}

/** An element with a class and children (strings become text nodes). */
function el (tag, className, ...children) {
  const node = document.createElement(tag)
  if (className) node.className = className
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)))
  return node
}

function svgEl (tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value))
  return node
}

function replace (id, ...children) {
  byId(id).replaceChildren(...children)
}

function empty (text) {
  return el('p', 'empty', text)
}

function peerId (id, self) {
  const span = el('span', id === self ? 'peer-id self' : 'peer-id', id)
  span.title = id
  return span
}

function badge (text, kind = text) {
  return el('span', `badge ${kind}`, text)
}

function ago (ms) {
  if (ms < 1000) return 'just now'
  const seconds = Math.round(ms / 1000)
  if (seconds < 60) return `${seconds}s ago`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h ago`
  return `${Math.floor(seconds / 86_400)}d ago`
}

function duration (ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const seconds = ms / 1000
  if (seconds < 60) return `${seconds.toFixed(1)} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${Math.floor(seconds % 60)}s`
  const hours = Math.floor(minutes / 60)
  return hours < 48 ? `${hours}h ${minutes % 60}m` : `${Math.floor(hours / 24)}d ${hours % 24}h`
}

function bytes (count) {
  if (count < 1024) return `${count} B`
  if (count < 1024 ** 2) return `${(count / 1024).toFixed(1)} KiB`
  if (count < 1024 ** 3) return `${(count / 1024 ** 2).toFixed(1)} MiB`
  return `${(count / 1024 ** 3).toFixed(2)} GiB`
}

/** A table from column specs: { header, value(row) → string | Node, number? }. */
function table (rows, columns) {
  const head = el('tr', '', ...columns.map((column) => el('th', column.number ? 'number' : '', column.header)))
  const body = rows.map((row) => el('tr', '', ...columns.map((column) => el('td', column.number ? 'number' : '', column.value(row)))))
  return el('table', '', el('thead', '', head), el('tbody', '', ...body))
}

function stat (label, value) {
  return el('div', 'stat', el('span', 'value', value), el('span', 'label', label))
}

function renderIdentity (overview) {
  const { node } = overview
  const identity = byId('identity')
  identity.replaceChildren(
    el('strong', '', node.peerId),
    ` · v${node.version} · up ${duration(overview.at - node.startedAt)} · admission ${node.admission} · API ${node.api}`
  )
  identity.title = node.listen.join('\n')
  document.title = `peerflow ${node.peerId.slice(-6)}`
}

function renderPeers (overview) {
  const { peers, node } = overview
  byId('peer-count').textContent = `(${peers.length})`
  if (peers.length === 0) return replace('peers', empty('no connected peers'))
  replace('peers', table(peers, [
    { header: 'peer', value: (peer) => peerId(peer.peerId, node.peerId) },
    { header: 'transport', value: (peer) => peer.transport },
    { header: 'RTT', number: true, value: (peer) => peer.rttMs === null ? '–' : `${peer.rttMs} ms` },
    { header: 'admitted', value: (peer) => peer.admitted ? badge('yes', 'good') : badge('pending', 'warn') },
    { header: 'direction', value: (peer) => peer.direction },
    { header: 'connected', value: (peer) => duration(overview.at - peer.connectedSince) },
    { header: 'address', value: (peer) => el('span', 'address', peer.address) }
  ]))
}

function renderSwarms (overview) {
  const { swarms, node } = overview
  if (swarms.length === 0) return replace('swarms', empty('no swarms known to this node'))
  replace('swarms', ...swarms.map((swarm) => {
    const head = el('div', 'swarm-head',
      el('strong', '', swarm.name),
      `${swarm.topology} · term ${swarm.term} · ${swarm.healthy}/${swarm.members.length} healthy`,
      el('span', '', 'leader ', swarm.leader === null ? badge('none', 'warn') : peerId(swarm.leader, node.peerId)))
    const members = el('ul', '', ...swarm.members.map((member) => el('li', '',
      peerId(member.peerId, node.peerId), ' ', badge(member.state),
      member.roles.length > 0 ? ` ${member.roles.join(', ')}` : '',
      member.agents > 0 ? ` · ${member.agents} agent${member.agents === 1 ? '' : 's'}` : '',
      member.voter ? '' : ' · non-voting')))
    return el('div', 'swarm', head, members)
  }))
}

function renderTasks (overview) {
  const { tasks, node } = overview
  if (tasks === null) return replace('tasks', empty('no task layer on this node'))
  const chips = el('div', 'chips', ...Object.entries(tasks.counts).map(([state, count]) => badge(`${state} ${count}`, state)))
  if (tasks.recent.length === 0) return replace('tasks', chips, empty('no tasks yet'))
  const approvals = (tasks.approvals ?? []).length === 0
    ? []
    : [el('div', 'approvals', el('strong', '', `Waiting for approval (${tasks.approvals.length}) — peerflow task approve|reject <id>`),
        table(tasks.approvals, [
          { header: 'task', value: (task) => el('span', 'peer-id', task.id) },
          { header: 'swarm', value: (task) => task.swarm },
          { header: 'waiting', number: true, value: (task) => duration(overview.at - task.submittedAt) },
          { header: 'to approve', value: (task) => { const cell = el('div', 'prompt', task.prompt); cell.title = task.prompt; return cell } }
        ]))]
  const spend = tasks.spend === null || tasks.spend === undefined
    ? []
    : [el('div', 'chips', badge(`spent today $${tasks.spend.network.spentUsd.toFixed(2)}${tasks.spend.network.capUsd === null ? '' : ` of $${tasks.spend.network.capUsd}`}`, 'spend'),
        ...tasks.spend.swarms.map((swarm) => badge(`${swarm.name} $${swarm.spentUsd.toFixed(2)}${swarm.effectiveCapUsd === null ? '' : ` / $${swarm.effectiveCapUsd.toFixed(2)}`}`,
          swarm.effectiveCapUsd !== null && swarm.spentUsd >= swarm.effectiveCapUsd * 0.9 ? 'warn' : 'spend')))]
  replace('tasks', chips, ...spend, ...approvals, table(tasks.recent, [
    { header: 'task', value: (task) => el('span', 'peer-id', task.id) },
    { header: 'state', value: (task) => badge(task.state) },
    { header: 'swarm', value: (task) => task.swarm },
    { header: 'role', value: (task) => task.role },
    { header: 'worker', value: (task) => task.assignee === null ? '–' : peerId(task.assignee, node.peerId) },
    { header: 'attempts', number: true, value: (task) => String(task.attempts) },
    { header: 'time', number: true, value: (task) => task.finishedAt === null ? `${duration(overview.at - task.submittedAt)} so far` : duration(task.finishedAt - task.submittedAt) },
    { header: 'prompt', value: (task) => { const cell = el('div', 'prompt', task.error === null ? task.prompt : `${task.prompt} — ${task.error}`); cell.title = task.prompt; return cell } }
  ]))
}

function renderMemory (overview) {
  if (overview.memory.length === 0) return replace('memory', empty('no namespaces'))
  replace('memory', table(overview.memory, [
    { header: 'namespace', value: (info) => info.name },
    { header: 'entries', number: true, value: (info) => String(info.entries) },
    { header: 'size', number: true, value: (info) => bytes(info.bytes) },
    { header: 'last write', value: (info) => info.lastUpdate === null ? '–' : ago(overview.at - info.lastUpdate) }
  ]))
}

function renderPatterns (overview) {
  const bank = overview.patterns
  if (bank === null) return replace('patterns', empty('the ReasoningBank is still opening'))
  const successRate = bank.totals.uses === 0 ? '–' : `${Math.round(100 * bank.totals.successes / bank.totals.uses)}%`
  const stats = el('div', 'stats',
    stat('patterns', bank.patterns),
    stat('indexed', bank.indexed),
    stat('uses', bank.totals.uses),
    stat('success rate', successRate),
    stat('retrievals', bank.totals.retrievals))
  const tallest = Math.max(1, ...bank.confidenceHistogram)
  const histogram = el('div', 'histogram', ...bank.confidenceHistogram.map((count, bucket) => {
    const bar = el('div', '')
    bar.style.height = `${(100 * count) / tallest}%`
    bar.title = `confidence ${bucket / 10}–${(bucket + 1) / 10}: ${count}`
    return bar
  }))
  const parts = [stats, el('p', 'empty', `confidence histogram · embedder ${bank.embedder.id}${bank.embedder.semantic ? '' : ' (lexical)'}`), histogram]
  if (bank.namespaces.length > 0) {
    parts.push(table(bank.namespaces, [
      { header: 'namespace', value: (row) => row.namespace },
      { header: 'patterns', number: true, value: (row) => String(row.patterns) },
      { header: 'mean confidence', number: true, value: (row) => row.meanConfidence.toFixed(2) }
    ]))
  }
  replace('patterns', ...parts)
}

/** A line through values scaled to [0, max] over the plot area. */
function polyline (points, className, box, max) {
  const coordinates = points.map(({ x, y }) => `${(box.left + x * box.width).toFixed(1)},${(box.top + box.height - (y / max) * box.height).toFixed(1)}`)
  return svgEl('polyline', { class: className, points: coordinates.join(' ') })
}

function chartFrame (box, leftLabel, rightLabel) {
  const svg = svgEl('svg', { viewBox: '0 0 560 170', role: 'img' })
  svg.append(
    svgEl('line', { class: 'axis', x1: box.left, y1: box.top + box.height, x2: box.left + box.width, y2: box.top + box.height }),
    svgEl('line', { class: 'axis', x1: box.left, y1: box.top, x2: box.left + box.width, y2: box.top }))
  const label = (text, x, y, anchor) => {
    const node = svgEl('text', { class: 'tick', x, y, 'text-anchor': anchor })
    node.textContent = text
    return node
  }
  svg.append(label(leftLabel, box.left - 4, box.top + 4, 'end'), label('0', box.left - 4, box.top + box.height + 4, 'end'))
  if (rightLabel !== undefined) svg.append(label(rightLabel, box.left + box.width + 4, box.top + 4, 'start'))
  return { svg, label }
}

/** The round number (1, 2 or 5 times a power of ten) at or above `value`, for an axis top. */
function niceMax (value) {
  if (!(value > 0)) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (value <= step * magnitude) return step * magnitude
  return 10 * magnitude
}

function renderTaskChart (tasks) {
  const box = { left: 48, top: 10, width: 460, height: 130 }
  const buckets = tasks.throughput
  const perBucket = niceMax(Math.max(...buckets.map((b) => b.done + b.failed)))
  const latencies = buckets.map((b) => b.meanLatencyMs).filter((ms) => ms !== null)
  const latencyMax = niceMax(Math.max(0, ...latencies))
  const { svg, label } = chartFrame(box, `${perBucket} tasks`, duration(latencyMax))
  const slot = box.width / buckets.length
  buckets.forEach((bucket, i) => {
    const x = box.left + i * slot + 1
    const doneHeight = (bucket.done / perBucket) * box.height
    const failedHeight = (bucket.failed / perBucket) * box.height
    if (bucket.done > 0) svg.append(svgEl('rect', { class: 'bar', x, y: box.top + box.height - doneHeight, width: slot - 2, height: doneHeight }))
    if (bucket.failed > 0) svg.append(svgEl('rect', { class: 'bar failed', x, y: box.top + box.height - doneHeight - failedHeight, width: slot - 2, height: failedHeight }))
  })
  const latencyPoints = buckets.flatMap((bucket, i) => bucket.meanLatencyMs === null ? [] : [{ x: (i + 0.5) / buckets.length, y: bucket.meanLatencyMs }])
  if (latencyPoints.length > 0) svg.append(polyline(latencyPoints, 'series-b', box, latencyMax))
  // A lone bucket draws no line: mark every point.
  for (const point of latencyPoints) svg.append(svgEl('circle', { class: 'point-b', cx: box.left + point.x * box.width, cy: box.top + box.height - (point.y / latencyMax) * box.height, r: 2.5 }))
  const windowMinutes = Math.round((buckets.length * (buckets[1].start - buckets[0].start)) / 60_000)
  svg.append(label(`last ${windowMinutes} min`, box.left + box.width, box.top + box.height + 16, 'end'))
  byId('chart-title').textContent = 'Task throughput and latency'
  replace('chart', el('div', 'chart', svg), el('div', 'legend',
    el('span', 'key-bars', `tasks finished per ${Math.round((buckets[1].start - buckets[0].start) / 1000)} s`),
    el('span', 'key-b', 'mean submit-to-finish latency')))
}

function renderGossipChart (overview) {
  const box = { left: 48, top: 10, width: 490, height: 130 }
  const rates = []
  for (let i = 1; i < gossipSamples.length; i++) {
    const previous = gossipSamples[i - 1]
    const current = gossipSamples[i]
    const seconds = (current.at - previous.at) / 1000
    // A restarted node starts its totals again from zero: no rate across that gap.
    if (seconds <= 0 || current.received < previous.received || current.sent < previous.sent) continue
    rates.push({ at: current.at, received: (current.received - previous.received) / seconds, sent: (current.sent - previous.sent) / seconds })
  }
  const max = niceMax(Math.max(1, ...rates.flatMap((rate) => [rate.received, rate.sent])))
  const { svg, label } = chartFrame(box, `${max}/s`)
  const start = overview.at - GOSSIP_WINDOW_MS
  const x = (at) => Math.max(0, (at - start) / GOSSIP_WINDOW_MS)
  if (rates.length > 0) {
    svg.append(
      polyline(rates.map((rate) => ({ x: x(rate.at), y: rate.received })), 'series-a', box, max),
      polyline(rates.map((rate) => ({ x: x(rate.at), y: rate.sent })), 'series-b', box, max))
  }
  svg.append(label(`last ${GOSSIP_WINDOW_MS / 60_000} min`, box.left + box.width, box.top + box.height + 16, 'end'))
  byId('chart-title').textContent = 'Memory gossip messages per second'
  replace('chart', el('div', 'chart', svg), el('div', 'legend', el('span', 'key-a', 'received'), el('span', 'key-b', 'sent')))
}

function renderChart (overview) {
  const tasks = overview.tasks
  const anyFinished = tasks !== null && tasks.throughput.some((bucket) => bucket.done + bucket.failed > 0)
  if (anyFinished) renderTaskChart(tasks)
  else renderGossipChart(overview)
}

function remember (overview) {
  // Overviews also arrive right after changes; rates over such short spans would only be noise.
  const last = gossipSamples[gossipSamples.length - 1]
  if (last !== undefined && overview.at - last.at < GOSSIP_SAMPLE_MS) return
  gossipSamples.push({ at: overview.at, sent: overview.gossip.sent, received: overview.gossip.received })
  while (gossipSamples.length > 0 && gossipSamples[0].at < overview.at - GOSSIP_WINDOW_MS) gossipSamples.shift()
}

function render (overview) {
  remember(overview)
  renderIdentity(overview)
  renderPeers(overview)
  renderSwarms(overview)
  renderTasks(overview)
  renderMemory(overview)
  renderPatterns(overview)
  renderChart(overview)
}

function setLink (state, text) {
  const link = byId('link')
  link.className = `link ${state}`
  link.textContent = text
}

function connect () {
  const events = new EventSource('/events')
  events.addEventListener('open', () => { setLink('live', 'live') })
  events.addEventListener('overview', (event) => {
    setLink('live', 'live')
    render(JSON.parse(event.data))
  })
  events.addEventListener('problem', (event) => { setLink('lost', `node error: ${JSON.parse(event.data).error}`) })
  // EventSource reconnects by itself (the node asks for a retry after 2 s): say so meanwhile.
  events.addEventListener('error', () => { setLink(events.readyState === EventSource.CLOSED ? 'lost' : 'waiting', events.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…') })
}

connect()
