/** Deterministic, varied engineering-advice sentences and questions for end-to-end embedding benchmarks. */

const ACTIONS = ['Validate', 'Cache', 'Retry', 'Log', 'Encrypt', 'Batch', 'Paginate', 'Index', 'Throttle', 'Sanitize', 'Compress', 'Monitor', 'Profile', 'Rotate', 'Version', 'Document', 'Test', 'Mock', 'Stream', 'Shard']
const OBJECTS = ['user input', 'database queries', 'API responses', 'network calls', 'session tokens', 'file uploads', 'background jobs', 'configuration files', 'error messages', 'search results', 'image assets', 'event streams', 'payment requests', 'email notifications', 'access logs', 'feature flags', 'cache entries', 'websocket messages', 'migration scripts', 'build artifacts']
const CONTEXTS = ['in the checkout service', 'before deploying to production', 'when traffic spikes', 'for mobile clients', 'in the admin dashboard', 'during nightly batch runs', 'across regions', 'in integration tests', 'for multi-tenant accounts', 'behind the load balancer']
const REASONS = ['to avoid data loss.', 'to keep latency low.', 'so failures are easy to diagnose.', 'to prevent injection attacks.', 'to reduce cloud costs.', 'so retries stay safe.', 'to meet compliance rules.', 'to keep memory bounded.', 'so on-call engineers can act quickly.', 'to avoid duplicate work.']
const QUESTIONS = ['How do I make {o} more reliable {c}?', 'What is the safest way to handle {o} {c}?', 'Why are {o} slow {c}?', 'How can I debug problems with {o} {c}?', 'What should I check about {o} {c}?']

const COMBINATIONS = ACTIONS.length * OBJECTS.length * CONTEXTS.length * REASONS.length
/** Coprime with COMBINATIONS, so i ↦ i·STRIDE mod COMBINATIONS visits every combination once, well mixed. */
const STRIDE = 7919

function pick<T> (items: readonly T[], index: number): T {
  return items[index % items.length] as T
}

/** `count` distinct advice sentences (up to 40,000). */
export function patternTexts (count: number): string[] {
  if (count > COMBINATIONS) throw new RangeError(`at most ${COMBINATIONS} distinct texts`)
  const texts: string[] = []
  for (let i = 0; i < count; i++) {
    let code = (i * STRIDE) % COMBINATIONS
    const action = pick(ACTIONS, code)
    code = Math.floor(code / ACTIONS.length)
    const object = pick(OBJECTS, code)
    code = Math.floor(code / OBJECTS.length)
    const context = pick(CONTEXTS, code)
    code = Math.floor(code / CONTEXTS.length)
    texts.push(`${action} ${object} ${context} ${pick(REASONS, code)}`)
  }
  return texts
}

/** `count` questions about the same topics, phrased unlike the advice. */
export function queryTexts (count: number): string[] {
  const texts: string[] = []
  for (let i = 0; i < count; i++) {
    const template = pick(QUESTIONS, i)
    texts.push(template.replace('{o}', pick(OBJECTS, Math.floor(i / 3))).replace('{c}', pick(CONTEXTS, Math.floor(i / 7))))
  }
  return texts
}
