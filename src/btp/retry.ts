// The retry policy of the BTP clients, stated once. Within one call a request is retried when
// the failure is one that a moment's wait can cure:
//   429                         BtpRateLimited   (never sooner than its Retry-After)
//   5xx                         BtpServerError
//   no connection, reset        BtpUnreachable
//   connect/response timeout    BtpTimeout
// and never for any other 4xx or TLS/credential failure. A non-idempotent request (creating a
// binding) is retried after a connection failure or timeout only when it never reached the server.
// The wait is capped exponential backoff with jitter (runtime/backoff.ts), or the server's
// Retry-After when that is longer; the retries stop at `maxAttempts`, at the overall deadline, or
// when Retry-After asks for more than `maxRetryAfterMs` (the error then carries `retryAfterMs`
// so the work queue can come back at the right time).
import { type BackoffPolicy, backoffDelay, validateBackoff } from '../runtime/backoff.ts';
import { type Clock, sleep } from '../runtime/clock.ts';
import { type BtpErrorCode, isBtpError } from './errors.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Budget of one call, retries and waits included, from its first attempt. */
  readonly deadlineMs: number;
  readonly backoff: BackoffPolicy;
  /** The longest Retry-After we wait out within a call; longer ones end the call. */
  readonly maxRetryAfterMs: number;
}

/** The defaults, in one place: 5 attempts within 60 s, 0.5 s doubling to 10 s ±20 %, Retry-After up to 30 s. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 5,
  deadlineMs: 60_000,
  backoff: Object.freeze({ baseMs: 500, maxMs: 10_000, jitter: 0.2 }),
  maxRetryAfterMs: 30_000,
});

/** The codes a call retries by itself (see the header). */
export const RETRIED_CODES: ReadonlySet<BtpErrorCode> = new Set([
  'BtpRateLimited',
  'BtpServerError',
  'BtpUnreachable',
  'BtpTimeout',
]);

export function resolveRetryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...overrides };
  validateBackoff(policy.backoff);
  if (!(Number.isInteger(policy.maxAttempts) && policy.maxAttempts >= 1))
    throw new RangeError(`retry: maxAttempts must be an integer >= 1, got ${policy.maxAttempts}`);
  if (!(policy.deadlineMs > 0))
    throw new RangeError(`retry: deadlineMs must be > 0, got ${policy.deadlineMs}`);
  if (!(policy.maxRetryAfterMs >= 0))
    throw new RangeError(`retry: maxRetryAfterMs must be >= 0, got ${policy.maxRetryAfterMs}`);
  return policy;
}

/** Whether the error is one the policy retries, given whether the request is idempotent. */
export function isRetriable(error: unknown, idempotent: boolean): boolean {
  if (!isBtpError(error) || !RETRIED_CODES.has(error.code)) return false;
  if (idempotent) return true;
  if (error.code === 'BtpRateLimited' || error.code === 'BtpServerError') return true;
  return error.requestSent === false;
}

export type RetryDecision = { readonly retry: true; readonly delayMs: number } | { readonly retry: false };

/**
 * Pure: after attempt number `attempt` (1-based) failed with `error`, `elapsedMs` into the call,
 * whether to try again and after how long.
 */
export function retryDecision(
  policy: RetryPolicy,
  error: unknown,
  attempt: number,
  elapsedMs: number,
  idempotent: boolean,
  random: () => number,
): RetryDecision {
  if (attempt >= policy.maxAttempts || !isRetriable(error, idempotent)) return { retry: false };
  const retryAfterMs = isBtpError(error) ? error.retryAfterMs : undefined;
  if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs) return { retry: false };
  const delayMs = Math.max(backoffDelay(policy.backoff, attempt, random), retryAfterMs ?? 0);
  if (elapsedMs + delayMs >= policy.deadlineMs) return { retry: false };
  return { retry: true, delayMs };
}

export interface AttemptContext {
  /** 1-based. */
  readonly attempt: number;
  /** Time left of the call's deadline. */
  readonly remainingMs: number;
}

export interface RetryOptions {
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  readonly idempotent: boolean;
  /** Overrides the default predicate (e.g. to never repeat a failure that was retried already). */
  readonly retriable?: (error: unknown) => boolean;
}

/** Runs `attempt` until it succeeds or the policy says stop; then throws the last error. */
export async function withRetry<T>(
  attempt: (context: AttemptContext) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { policy, clock } = options;
  const startedMs = clock.nowMs();
  for (let number = 1; ; number += 1) {
    const elapsedMs = clock.nowMs() - startedMs;
    try {
      return await attempt({ attempt: number, remainingMs: Math.max(0, policy.deadlineMs - elapsedMs) });
    } catch (error) {
      const failedAtMs = clock.nowMs() - startedMs;
      const eligible = options.retriable?.(error) ?? true;
      const decision = eligible
        ? retryDecision(policy, error, number, failedAtMs, options.idempotent, options.random)
        : ({ retry: false } as const);
      if (!decision.retry) throw error;
      await sleep(clock, decision.delayMs).promise;
    }
  }
}
