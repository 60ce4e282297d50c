import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const FILE = 'retrievals.json'

/**
 * How often each pattern was returned by a query on this node. Kept locally rather than in the pattern:
 * writing replicated memory on every read would turn each query into network traffic and merge churn.
 */
export class RetrievalCounts {
  readonly #counts: Map<string, number>

  private constructor (counts: Map<string, number>) {
    this.#counts = counts
  }

  /** Counts saved in `dir`, or none when there are none (or they are unreadable: they are only statistics). */
  static async load (dir: string): Promise<RetrievalCounts> {
    try {
      const saved = JSON.parse(await readFile(join(dir, FILE), 'utf8')) as Record<string, number>
      return new RetrievalCounts(new Map(Object.entries(saved).filter(([, count]) => Number.isInteger(count) && count > 0)))
    } catch {
      return new RetrievalCounts(new Map())
    }
  }

  get total (): number {
    let total = 0
    for (const count of this.#counts.values()) total += count
    return total
  }

  get (name: string): number {
    return this.#counts.get(name) ?? 0
  }

  increment (name: string): void {
    this.#counts.set(name, this.get(name) + 1)
  }

  delete (name: string): void {
    this.#counts.delete(name)
  }

  /** Adds the count of `from` to `to`, when one pattern is merged into another. */
  transfer (from: string, to: string): void {
    const count = this.get(from)
    this.#counts.delete(from)
    if (count > 0) this.#counts.set(to, this.get(to) + count)
  }

  /** The `n` most retrieved names, most first. */
  top (n: number): Array<{ name: string, retrievals: number }> {
    return [...this.#counts]
      .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
      .slice(0, n)
      .map(([name, retrievals]) => ({ name, retrievals }))
  }

  async save (dir: string): Promise<void> {
    await mkdir(dir, { recursive: true })
    const path = join(dir, FILE)
    await writeFile(`${path}.tmp`, JSON.stringify(Object.fromEntries(this.#counts)))
    await rename(`${path}.tmp`, path)
  }
}
