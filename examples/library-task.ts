import { parseArgs } from 'node:util'
// In your own project: import { connect, PeerflowError } from 'peerflow'
import { connect, PeerflowError } from '../node/index.ts'

/**
 * Hands work to a swarm of a running node and follows it: submit, watch every change, then store
 * what was learned as a pattern and find it again by meaning.
 * Run: node examples/library-task.ts --api 127.0.0.1:7433 --swarm review --role reviewer "check src/x.ts"
 */

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    api: { type: 'string', default: process.env.PEERFLOW_API ?? '127.0.0.1:7433' },
    token: { type: 'string', default: process.env.PEERFLOW_API_TOKEN },
    swarm: { type: 'string' },
    role: { type: 'string' }
  }
})
const prompt = positionals.join(' ')
if (values.swarm === undefined || prompt === '') {
  process.stderr.write('usage: node examples/library-task.ts --swarm NAME [--role ROLE] [--api HOST:PORT] "prompt"\n')
  process.exit(2)
}

try {
  const pf = await connect(values.api, { token: values.token })
  const task = await pf.tasks.submit({ swarm: values.swarm, prompt, role: values.role })
  console.log(`submitted ${task.id} to ${task.swarm}`)
  let last = task
  for await (const event of pf.tasks.watch(task.id)) {
    console.log(`${event.state}${event.assignee === null ? '' : ` on ${event.assignee}`}`)
    last = event
  }
  if (last.state !== 'done') throw new PeerflowError('unavailable', `task ${last.state}: ${last.error ?? ''}`)
  console.log(`result: ${last.result ?? ''}`)

  await pf.patterns.store({ name: `lesson-${task.id}`, content: `${prompt}: ${last.result ?? ''}`, namespace: 'lessons', confidence: 0.9 })
  const hits = await pf.patterns.query({ question: prompt, namespace: 'lessons', minConfidence: 0.8 })
  console.log(`patterns: ${hits.matches.map((match) => match.pattern.name).join(', ')}`)
} catch (err) {
  // Every failure is a PeerflowError whose kind says what to do: 'invalid' means fix the input.
  if (!(err instanceof PeerflowError)) throw err
  process.stderr.write(`library-task: ${err.kind}: ${err.message}\n`)
  process.exit(err.kind === 'invalid' || err.kind === 'not-found' ? 2 : 1)
}
