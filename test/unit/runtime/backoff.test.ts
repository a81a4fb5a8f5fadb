import { describe, expect, it } from 'vitest';
import { type BackoffPolicy, backoffDelay, validateBackoff } from '../../../src/runtime/backoff.ts';

const policy: BackoffPolicy = { baseMs: 1_000, maxMs: 300_000, jitter: 0.1 };

describe('backoffDelay', () => {
  const cases: { failures: number; random: number; want: number }[] = [
    { failures: 1, random: 0.5, want: 1_000 },
    { failures: 2, random: 0.5, want: 2_000 },
    { failures: 9, random: 0.5, want: 256_000 },
    { failures: 10, random: 0.5, want: 300_000 },
    { failures: 10_000, random: 0.5, want: 300_000 },
    { failures: 0, random: 0.5, want: 1_000 },
    { failures: 1, random: 0, want: 900 },
    { failures: 1, random: 0.999_999, want: 1_100 },
    { failures: 10, random: 0, want: 270_000 },
    { failures: 10, random: 0.999_999, want: 300_000 },
  ];
  it.each(cases)('failures=$failures random=$random -> $want ms', ({ failures, random, want }) => {
    expect(backoffDelay(policy, failures, () => random)).toBe(want);
  });

  it('is never negative, even with full jitter', () => {
    const full: BackoffPolicy = { baseMs: 10, maxMs: 100, jitter: 1 };
    expect(backoffDelay(full, 1, () => 0)).toBe(0);
  });

  it('handles a zero base', () => {
    expect(backoffDelay({ baseMs: 0, maxMs: 0, jitter: 0.5 }, 100, () => 0.9)).toBe(0);
  });

  it.each([
    { baseMs: -1, maxMs: 10, jitter: 0 },
    { baseMs: 10, maxMs: 5, jitter: 0 },
    { baseMs: 1, maxMs: Number.POSITIVE_INFINITY, jitter: 0 },
    { baseMs: 1, maxMs: 10, jitter: -0.1 },
    { baseMs: 1, maxMs: 10, jitter: 1.5 },
    { baseMs: Number.NaN, maxMs: 10, jitter: 0 },
  ])('validateBackoff rejects %o', (p) => {
    expect(() => validateBackoff(p)).toThrow(RangeError);
  });
});
