import { InvalidNamespaceError } from './errors.ts'
import { isNamespaceName, NAMESPACES } from './namespace-names.ts'

/** Limits and default lifetime of the entries of one namespace. Limits are enforced on local writes. */
export interface NamespacePolicy {
  /** Lifetime given to entries written without their own ttlMs; absent means they never expire. */
  readonly defaultTtlMs?: number
  readonly maxEntries: number
  /** Budget for the JSON size of all entries (expired ones count until swept). */
  readonly maxBytes: number
  /** Largest JSON size of one entry's value. */
  readonly maxValueBytes: number
}

const HOUR_MS = 60 * 60 * 1000

export const DEFAULT_POLICY: NamespacePolicy = Object.freeze({
  maxEntries: 100_000,
  maxBytes: 64 * 1024 * 1024,
  maxValueBytes: 64 * 1024
})

/** Namespaces every node has from the start, with the lifetime their contents are meant to have. */
export const SEEDED_TTL_MS: Readonly<Record<string, number>> = Object.freeze({
  [NAMESPACES.swarmState]: HOUR_MS,
  [NAMESPACES.taskQueue]: 2 * HOUR_MS,
  [NAMESPACES.sharedKnowledge]: 24 * HOUR_MS
})


export function assertNamespaceName (name: unknown): asserts name is string {
  if (!isNamespaceName(name)) {
    throw new InvalidNamespaceError(
      `invalid namespace name ${JSON.stringify(name)}: use 1 to 64 of a-z 0-9 . _ - starting with a letter or digit`
    )
  }
}

function assertPositiveInteger (namespace: string, field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidNamespaceError(`namespace "${namespace}": policy ${field} must be a positive integer`)
  }
}

/** Overrides merged over the seeded or default policy; an explicit `defaultTtlMs: undefined` removes the TTL. */
export type PolicyOverrides = Readonly<Record<string, Partial<NamespacePolicy>>>

/**
 * The policy of every namespace a store may hold. All policies are validated up front so a bad
 * configuration fails at startup, not on the first write to that namespace.
 */
export class PolicyTable {
  readonly #default: NamespacePolicy
  readonly #policies = new Map<string, NamespacePolicy>()

  /** `defaults` adjusts the policy of unknown namespaces, which the seeded ones also start from. */
  constructor (overrides: PolicyOverrides = {}, defaults: Partial<NamespacePolicy> = {}) {
    this.#default = Object.freeze({ ...DEFAULT_POLICY, ...defaults })
    for (const [name, defaultTtlMs] of Object.entries(SEEDED_TTL_MS)) {
      this.#policies.set(name, Object.freeze({ ...this.#default, defaultTtlMs }))
    }
    for (const [name, override] of Object.entries(overrides)) {
      assertNamespaceName(name)
      this.#policies.set(name, Object.freeze({ ...(this.#policies.get(name) ?? this.#default), ...override }))
    }
    for (const [name, policy] of [['(default)', this.#default] as const, ...this.#policies]) {
      assertPositiveInteger(name, 'maxEntries', policy.maxEntries)
      assertPositiveInteger(name, 'maxBytes', policy.maxBytes)
      assertPositiveInteger(name, 'maxValueBytes', policy.maxValueBytes)
      if (policy.defaultTtlMs !== undefined) assertPositiveInteger(name, 'defaultTtlMs', policy.defaultTtlMs)
    }
  }

  /** Unknown (valid) names get the default policy: namespaces are created by their first write. */
  policyFor (namespace: string): NamespacePolicy {
    assertNamespaceName(namespace)
    return this.#policies.get(namespace) ?? this.#default
  }

  /** Namespaces that exist before any write: the seeded ones and any given an explicit policy. */
  configuredNamespaces (): string[] {
    return [...this.#policies.keys()].sort()
  }

  /** The largest maxValueBytes any namespace can have, default included. */
  largestValueBytes (): number {
    return Math.max(this.#default.maxValueBytes, ...[...this.#policies.values()].map(policy => policy.maxValueBytes))
  }
}
