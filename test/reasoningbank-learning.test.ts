import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { mergePatterns, planConsolidation } from '../src/reasoningbank/consolidate.ts'
import { InMemoryPatternStore } from '../src/reasoningbank/in-memory-pattern-store.ts'
import { applyOutcome, MAX_CONFIDENCE, MIN_CONFIDENCE, updateConfidence } from '../src/reasoningbank/learning.ts'
import type { Pattern } from '../src/reasoningbank/pattern.ts'
import { ReasoningBank } from '../src/reasoningbank/reasoning-bank.ts'
import { scorePattern } from '../src/reasoningbank/scoring.ts'
import { cosine } from '../src/reasoningbank/vector-math.ts'

const DAY = 86_400_000
const NOW = Date.UTC(2026, 0, 1)

function replay (start: number, outcomes: boolean[]): number {
  let confidence = start
  outcomes.forEach((success, uses) => { confidence = updateConfidence(confidence, uses, success) })
  return confidence
}

const confidence = fc.double({ min: 0, max: 1, noNaN: true })
const outcomes = fc.array(fc.boolean(), { maxLength: 60 })

describe('confidence learning rule', () => {
  it('stays within [0.05, 0.99] after any outcomes, from any start', () => {
    fc.assert(fc.property(confidence, fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), (start, history) => {
      const end = replay(start, history)
      return end >= MIN_CONFIDENCE && end <= MAX_CONFIDENCE
    }))
  })

  it('is monotone: turning any failure into a success never lowers confidence', () => {
    fc.assert(fc.property(confidence, outcomes.filter((h) => h.includes(false)), fc.nat(), (start, history, pick) => {
      const failures = history.flatMap((success, i) => (success ? [] : [i]))
      const flipped = [...history]
      flipped[failures[pick % failures.length] as number] = true
      return replay(start, flipped) >= replay(start, history)
    }))
  })

  it('moves toward the outcome by a step that shrinks with use but not below the floor', () => {
    fc.assert(fc.property(fc.double({ min: 0.06, max: 0.98, noNaN: true }), fc.nat({ max: 10_000 }), (start, uses) => {
      const up = updateConfidence(start, uses, true)
      const down = updateConfidence(start, uses, false)
      return up > start && down < start && up - start <= updateConfidence(start, 0, true) - start + 1e-12
    }))
    // The step floor: a long-trusted pattern still loses ground on failure.
    expect(updateConfidence(0.9, 1_000_000, false)).toBeCloseTo(0.855)
  })

  it('equals the Beta(1, 1) posterior mean from a neutral start', () => {
    fc.assert(fc.property(fc.array(fc.boolean(), { maxLength: 15 }), (history) => {
      const successes = history.filter(Boolean).length
      return Math.abs(replay(0.5, history) - Math.min(MAX_CONFIDENCE, Math.max(MIN_CONFIDENCE, (successes + 1) / (history.length + 2)))) < 1e-9
    }))
  })

  it('updates the counters and lastUsedAt of a pattern', () => {
    const pattern = makePattern({ name: 'p', confidence: 0.5, lastUsedAt: NOW - DAY })
    const after = applyOutcome(pattern, false, NOW)
    expect(after).toMatchObject({ uses: 1, successes: 0, failures: 1, lastUsedAt: NOW })
    expect(after.confidence).toBeCloseTo(1 / 3)
  })
})

describe('scoring', () => {
  it('combines 0.7 similarity, 0.2 confidence and 0.1 recency with a 30-day time constant', () => {
    const parts = scorePattern(0.8, 0.5, NOW - 30 * DAY, NOW)
    expect(parts.recency).toBeCloseTo(Math.exp(-1))
    expect(parts.score).toBeCloseTo(0.7 * 0.8 + 0.2 * 0.5 + 0.1 * Math.exp(-1))
    expect(scorePattern(0.8, 0.5, NOW + DAY, NOW).recency).toBe(1)
  })
})

function makePattern (overrides: Partial<Pattern> & { name: string }): Pattern {
  return {
    content: overrides.name, namespace: 'ns', confidence: 0.5, uses: 0, successes: 0, failures: 0,
    createdAt: NOW, lastUsedAt: NOW, embedding: [1, 0, 0], embedder: 'test', metadata: {}, ...overrides
  }
}

/** Patterns whose 3-d embeddings are drawn from a few directions, so near-duplicates are common. */
const patternSet = fc.uniqueArray(
  fc.record({
    name: fc.string({ minLength: 1, maxLength: 6 }),
    namespace: fc.constantFrom('a', 'b'),
    direction: fc.constantFrom([1, 0, 0], [0, 1, 0], [0.7, 0.7, 0.1], [0.99, 0.05, 0]),
    jitter: fc.double({ min: -0.05, max: 0.05, noNaN: true }),
    confidence: fc.double({ min: 0, max: 1, noNaN: true }),
    uses: fc.nat({ max: 20 }),
    successes: fc.nat({ max: 20 }),
    failures: fc.nat({ max: 20 }),
    idleDays: fc.nat({ max: 200 })
  }),
  { selector: (p) => p.name, maxLength: 25 }
).map((records) => records.map((r) => makePattern({
  name: r.name,
  namespace: r.namespace,
  embedding: [(r.direction[0] as number) + r.jitter, r.direction[1] as number, r.direction[2] as number],
  confidence: r.confidence,
  uses: r.uses,
  successes: r.successes,
  failures: r.failures,
  lastUsedAt: NOW - r.idleDays * DAY,
  metadata: { origin: r.name }
})))

describe('consolidation', () => {
  const options = { threshold: 0.95, now: NOW }

  it('merges only near-duplicates of the same namespace into a more trusted keeper, each pattern at most once', () => {
    fc.assert(fc.property(patternSet, (patterns) => {
      const byName = new Map(patterns.map((p) => [p.name, p]))
      const plan = planConsolidation(patterns, options)
      const touched = [...plan.prunes.map((p) => p.name), ...plan.merges.flatMap((m) => [m.keep, ...m.absorb.map((a) => a.name)])]
      expect(new Set(touched).size).toBe(touched.length)
      for (const merge of plan.merges) {
        const keeper = byName.get(merge.keep) as Pattern
        for (const { name, similarity } of merge.absorb) {
          const other = byName.get(name) as Pattern
          expect(other.namespace).toBe(keeper.namespace)
          expect(other.confidence).toBeLessThanOrEqual(keeper.confidence)
          expect(similarity).toBeGreaterThanOrEqual(0.95)
          expect(similarity).toBeCloseTo(cosine(keeper.embedding, other.embedding))
        }
      }
      for (const prune of plan.prunes) {
        expect(prune.confidence).toBeLessThan(0.3)
        expect(prune.idleDays).toBeGreaterThan(90)
      }
    }))
  })

  it('preserves the total uses, successes and failures of the patterns it does not prune, and is idempotent', () => {
    fc.assert(fc.property(patternSet, (patterns) => {
      const plan = planConsolidation(patterns, options)
      const pruned = new Set(plan.prunes.map((p) => p.name))
      const absorbed = new Set(plan.merges.flatMap((m) => m.absorb.map((a) => a.name)))
      const byName = new Map(patterns.map((p) => [p.name, p]))
      const merged = new Map(plan.merges.map((m) => [m.keep, mergePatterns(byName.get(m.keep) as Pattern, m.absorb.map((a) => byName.get(a.name) as Pattern))]))
      const after = patterns.filter((p) => !pruned.has(p.name) && !absorbed.has(p.name)).map((p) => merged.get(p.name) ?? p)
      const total = (list: Pattern[], key: 'uses' | 'successes' | 'failures'): number => list.reduce((sum, p) => sum + p[key], 0)
      const kept = patterns.filter((p) => !pruned.has(p.name))
      for (const key of ['uses', 'successes', 'failures'] as const) expect(total(after, key)).toBe(total(kept, key))
      expect(planConsolidation(after, options).merges).toEqual([])
    }))
  })

  it('keeps the keeper\'s metadata and fills gaps from the merged patterns', () => {
    const keeper = makePattern({ name: 'k', metadata: { owner: 'k' }, createdAt: NOW - DAY })
    const other = makePattern({ name: 'o', metadata: { owner: 'o', extra: 1 }, createdAt: NOW - 2 * DAY, lastUsedAt: NOW + DAY })
    expect(mergePatterns(keeper, [other])).toMatchObject({ metadata: { owner: 'k', extra: 1, mergedFrom: ['o'] }, createdAt: NOW - 2 * DAY, lastUsedAt: NOW + DAY })
  })

  it('dry run leaves the store exactly as it was', async () => {
    const embedder = { id: 'test', dimensions: 3, semantic: false, embed: async (texts: string[]) => texts.map(() => new Float32Array([1, 0, 0])) }
    await fc.assert(fc.asyncProperty(patternSet, async (patterns) => {
      const store = new InMemoryPatternStore()
      for (const pattern of patterns) await store.put(pattern)
      const before = structuredClone(store.all())
      const dir = await mkdtemp(join(tmpdir(), 'peerflow-rb-dry-'))
      const bank = await ReasoningBank.open({ store, embedder, indexDir: dir, now: () => NOW })
      try {
        const plan = await bank.consolidate({ dryRun: true })
        expect(plan.applied).toBe(false)
        expect(store.all()).toEqual(before)
      } finally {
        await bank.close()
        await rm(dir, { recursive: true, force: true })
      }
    }), { numRuns: 30 })
  })
})
