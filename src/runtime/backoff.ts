// Capped exponential backoff with jitter, shared by the work queue (per-key retries) and the
// informer (restarts). The retry defaults of the runtime are stated here, once.

export interface BackoffPolicy {
  /** Delay after the first failure. */
  readonly baseMs: number;
  /** Hard upper bound of any delay, jitter included. */
  readonly maxMs: number;
  /** Each delay is spread uniformly over ±jitter of itself (0 = none, 0.1 = ±10 %). */
  readonly jitter: number;
}

/** Per-key reconcile retries: 1 s, 2 s, 4 s, ... up to 5 min, ±10 %. */
export const DEFAULT_RECONCILE_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 5 * 60_000, jitter: 0.1 };

/** Informer restarts: 1 s, 2 s, 4 s, ... up to 30 s, ±10 %. */
export const DEFAULT_INFORMER_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 30_000, jitter: 0.1 };

export function validateBackoff(p: BackoffPolicy): BackoffPolicy {
  if (!(p.baseMs >= 0) || !(p.maxMs >= p.baseMs) || !Number.isFinite(p.maxMs)) {
    throw new RangeError(`backoff: need 0 <= baseMs <= maxMs < Infinity, got ${p.baseMs}/${p.maxMs}`);
  }
  if (!(p.jitter >= 0 && p.jitter <= 1))
    throw new RangeError(`backoff: jitter must be in [0, 1], got ${p.jitter}`);
  return p;
}

/**
 * The delay before retry number `failures` (1 after the first failure):
 * min(maxMs, baseMs * 2^(failures-1) * (1 ± jitter)), never negative.
 * `random` returns a number in [0, 1), as Math.random does.
 */
export function backoffDelay(
  policy: BackoffPolicy,
  failures: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 62);
  const raw = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const spread = policy.jitter * (2 * random() - 1);
  const delay = Math.min(policy.maxMs, raw * (1 + spread));
  return Math.max(0, Math.round(delay));
}
