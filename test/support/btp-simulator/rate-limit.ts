// A sliding-window request limiter: at most `limit` accepted requests in any `windowMs`.
// It remembers the times of the last `limit` accepted requests in a ring.

export type Admission = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export class SlidingWindowLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #accepted: number[];
  #next = 0;

  constructor(limit: number, windowMs: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#accepted = new Array<number>(limit).fill(Number.NEGATIVE_INFINITY);
  }

  tryAcquire(nowMs: number): Admission {
    // The slot about to be overwritten holds the oldest of the last `limit` acceptances.
    const oldest = this.#accepted[this.#next] ?? Number.NEGATIVE_INFINITY;
    if (nowMs - oldest < this.#windowMs) return { ok: false, retryAfterMs: oldest + this.#windowMs - nowMs };
    this.#accepted[this.#next] = nowMs;
    this.#next = (this.#next + 1) % this.#limit;
    return { ok: true };
  }
}
