// Token buckets that keep this operator under documented rate limits: calls wait their turn
// instead of drawing 429s. A bucket with rate r per second and burst b admits at most b + r·T
// requests in any window of T seconds (it holds at most b tokens when the window opens and gains
// r·T during it); a limit of L requests per window W holds when b + r·W <= L.
//
// The Service Manager's limits per caller (btp.md: all SM APIs 1,000/min and 10,000/h;
// /v1/service_bindings 600/min and 6,000/h) are kept by SmRateLimiter, one per access credential,
// which every HTTP request of that credential's client waits for: first attempts, retries,
// operation polls and pages alike.
import { type Clock, sleep } from '../runtime/clock.ts';

export type RateLimit = { readonly perSecond: number; readonly burst: number };

/** The buckets of one Service Manager caller: every request takes a token from each bucket of
 * `all`, a request under /v1/service_bindings from each of `bindings` too. */
export type SmRateLimit = { readonly all: readonly RateLimit[]; readonly bindings: readonly RateLimit[] };

/**
 * Each bucket keeps its own window at 90 % of the documented limit (b + r·W), the margin for the
 * clocks of the two sides and for requests of a previous process of this operator, whose buckets
 * started full too:
 *   all, minute:       14/s,   burst 60     60 + 14·60      =   900 per minute (limit 1,000)
 *   all, hour:         2/s,    burst 1,800  1,800 + 2·3,600 = 9,000 per hour   (limit 10,000)
 *   bindings, minute:  8/s,    burst 60     60 + 8·60       =   540 per minute (limit 600)
 *   bindings, hour:    1.25/s, burst 900    900 + 1.25·3,600 = 5,400 per hour  (limit 6,000)
 * A minute bucket keeps every shorter window too. A wave first runs at the minute buckets' rate
 * until the hour bursts are spent (900 binding requests, about 300 certificates), then at the
 * hour rates: 75 binding requests a minute, which bounds an issuance or renewal wave of one
 * credential (3 binding requests a certificate) to 25 certificates a minute, 1,500 an hour; the
 * documented limits allow no more than 2,000.
 */
export const SM_RATE_LIMIT: SmRateLimit = Object.freeze({
  all: Object.freeze([
    Object.freeze({ perSecond: 14, burst: 60 }),
    Object.freeze({ perSecond: 2, burst: 1_800 }),
  ]),
  bindings: Object.freeze([
    Object.freeze({ perSecond: 8, burst: 60 }),
    Object.freeze({ perSecond: 1.25, burst: 900 }),
  ]),
});

/** One bucket's tokens; RateLimiter owns the waiting. */
class Bucket {
  readonly #limit: RateLimit;
  #tokens: number;
  #lastMs: number;

  constructor(limit: RateLimit, nowMs: number) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('rate limit must be positive');
    this.#limit = limit;
    this.#tokens = limit.burst;
    this.#lastMs = nowMs;
  }

  /** How long until this bucket has a token. */
  waitMs(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.#limit.perSecond) * 1000);
  }

  take(nowMs: number): void {
    this.#refill(nowMs);
    this.#tokens -= 1;
  }

  #refill(nowMs: number): void {
    this.#tokens = Math.min(
      this.#limit.burst,
      this.#tokens + ((nowMs - this.#lastMs) / 1000) * this.#limit.perSecond,
    );
    this.#lastMs = nowMs;
  }
}

/**
 * One queue in front of some buckets: a request waits until every bucket it names has a token,
 * then takes one from each, so that each bucket's bound holds for the requests as sent. Callers
 * are served in the order they asked (one waiting for a scarce bucket holds up those behind it).
 */
class RateLimiter {
  readonly #clock: Clock;
  #tail: Promise<void> = Promise.resolve();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  take(buckets: readonly Bucket[]): Promise<void> {
    const turn = this.#tail.then(() => this.#takeFrom(buckets));
    this.#tail = turn;
    return turn;
  }

  async #takeFrom(buckets: readonly Bucket[]): Promise<void> {
    for (;;) {
      const now = this.#clock.nowMs();
      const waitMs = Math.max(0, ...buckets.map((b) => b.waitMs(now)));
      if (waitMs === 0) break;
      await sleep(this.#clock, waitMs).promise;
    }
    const now = this.#clock.nowMs();
    for (const bucket of buckets) bucket.take(now);
  }
}

/** A single bucket with its queue (the token checks'). */
export class TokenBucket {
  readonly #limiter: RateLimiter;
  readonly #buckets: readonly Bucket[];

  constructor(clock: Clock, limit: RateLimit) {
    this.#limiter = new RateLimiter(clock);
    this.#buckets = [new Bucket(limit, clock.nowMs())];
  }

  /** Resolves when a call may go; callers are served in the order they asked. */
  take(): Promise<void> {
    return this.#limiter.take(this.#buckets);
  }
}

/** What a Service Manager request is, for its limits. */
export type SmRequestKind = 'binding' | 'other';

/** One Service Manager caller's limits (SmRateLimit), one queue for all its requests. */
export class SmRateLimiter {
  readonly #limiter: RateLimiter;
  readonly #other: readonly Bucket[];
  readonly #binding: readonly Bucket[];

  constructor(clock: Clock, limit: SmRateLimit = SM_RATE_LIMIT) {
    const now = clock.nowMs();
    this.#limiter = new RateLimiter(clock);
    this.#other = limit.all.map((l) => new Bucket(l, now));
    this.#binding = [...this.#other, ...limit.bindings.map((l) => new Bucket(l, now))];
  }

  /** Resolves when the request may be sent. */
  take(kind: SmRequestKind): Promise<void> {
    return this.#limiter.take(kind === 'binding' ? this.#binding : this.#other);
  }
}
