/**
 * Keeps the k highest-scoring ids seen so far in a bounded min-heap: O(log k) per accepted item and
 * nothing allocated per item, instead of sorting every candidate.
 */
export class TopK {
  readonly #capacity: number
  readonly #scores: Float64Array
  readonly #ids: Int32Array
  #size = 0

  constructor (capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a non-negative integer, got ${capacity}`)
    this.#capacity = capacity
    this.#scores = new Float64Array(capacity)
    this.#ids = new Int32Array(capacity)
  }

  get size (): number {
    return this.#size
  }

  /** Lowest score kept, or -Infinity while not full: anything above it would be kept (nothing, when k is 0). */
  get threshold (): number {
    if (this.#capacity === 0) return Number.POSITIVE_INFINITY
    return this.#size < this.#capacity ? Number.NEGATIVE_INFINITY : this.#scores[0]
  }

  push (id: number, score: number): void {
    if (this.#size < this.#capacity) {
      this.#scores[this.#size] = score
      this.#ids[this.#size] = id
      this.#siftUp(this.#size++)
    } else if (this.#capacity > 0 && score > this.#scores[0]) {
      this.#scores[0] = score
      this.#ids[0] = id
      this.#siftDown(0)
    }
  }

  /** The kept items, best first. */
  sorted (): Array<{ id: number, score: number }> {
    const items: Array<{ id: number, score: number }> = []
    for (let i = 0; i < this.#size; i++) items.push({ id: this.#ids[i], score: this.#scores[i] })
    return items.sort((a, b) => b.score - a.score || a.id - b.id)
  }

  #siftUp (position: number): void {
    while (position > 0) {
      const parent = (position - 1) >> 1
      if (this.#scores[parent] <= this.#scores[position]) return
      this.#swap(parent, position)
      position = parent
    }
  }

  #siftDown (position: number): void {
    for (;;) {
      const left = 2 * position + 1
      const right = left + 1
      let smallest = position
      if (left < this.#size && this.#scores[left] < this.#scores[smallest]) smallest = left
      if (right < this.#size && this.#scores[right] < this.#scores[smallest]) smallest = right
      if (smallest === position) return
      this.#swap(smallest, position)
      position = smallest
    }
  }

  #swap (a: number, b: number): void {
    const score = this.#scores[a]
    this.#scores[a] = this.#scores[b]
    this.#scores[b] = score
    const id = this.#ids[a]
    this.#ids[a] = this.#ids[b]
    this.#ids[b] = id
  }
}
