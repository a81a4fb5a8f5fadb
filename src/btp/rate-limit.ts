// A token bucket that keeps this operator under Service Manager's documented limits per caller
// (btp.md: /v1/service_bindings 600/min and 6,000/h; all SM APIs 1,000/min, 10,000/h), even when
// thousands of certificates renew at once: calls wait their turn instead of drawing 429s.
import { type Clock, sleep } from '../runtime/clock.ts';

export type RateLimit = { readonly perSecond: number; readonly burst: number };

/** 8 calls/s sustained (480/min, under 600/min) with bursts of 20. */
export const SM_RATE_LIMIT: RateLimit = Object.freeze({ perSecond: 8, burst: 20 });

export class TokenBucket {
  readonly #clock: Clock;
  readonly #limit: RateLimit;
  #tokens: number;
  #lastMs: number;
  #tail: Promise<void> = Promise.resolve();

  constructor(clock: Clock, limit: RateLimit = SM_RATE_LIMIT) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('rate limit must be positive');
    this.#clock = clock;
    this.#limit = limit;
    this.#tokens = limit.burst;
    this.#lastMs = clock.nowMs();
  }

  /** Resolves when a call may go; callers are served in the order they asked. */
  take(): Promise<void> {
    const turn = this.#tail.then(() => this.#takeOne());
    this.#tail = turn;
    return turn;
  }

  async #takeOne(): Promise<void> {
    this.#refill();
    if (this.#tokens < 1) {
      const waitMs = Math.ceil(((1 - this.#tokens) / this.#limit.perSecond) * 1000);
      await sleep(this.#clock, waitMs).promise;
      this.#refill();
    }
    this.#tokens -= 1;
  }

  #refill(): void {
    const now = this.#clock.nowMs();
    this.#tokens = Math.min(
      this.#limit.burst,
      this.#tokens + ((now - this.#lastMs) / 1000) * this.#limit.perSecond,
    );
    this.#lastMs = now;
  }
}
