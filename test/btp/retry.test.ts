import { describe, expect, it } from 'vitest';
import { BtpError, type BtpErrorCode } from '../../src/btp/errors.ts';
import {
  DEFAULT_RETRY_POLICY,
  isRetriable,
  type RetryPolicy,
  resolveRetryPolicy,
  retryDecision,
  withRetry,
} from '../../src/btp/retry.ts';
import { sleep } from '../../src/runtime/clock.ts';
import { FakeClock } from '../support/fake-clock.ts';

const POLICY: RetryPolicy = {
  maxAttempts: 4,
  deadlineMs: 10_000,
  backoff: { baseMs: 100, maxMs: 1_000, jitter: 0 },
  maxRetryAfterMs: 5_000,
};
const noJitter = () => 0.5;

function failure(code: BtpErrorCode, extra: { retryAfterMs?: number; requestSent?: boolean } = {}): BtpError {
  return new BtpError(code, `test ${code}`, extra);
}

describe('the retry policy', () => {
  it('states its defaults once and validates overrides', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({
      maxAttempts: 5,
      deadlineMs: 60_000,
      backoff: { baseMs: 500, maxMs: 10_000, jitter: 0.2 },
      maxRetryAfterMs: 30_000,
    });
    expect(Object.isFrozen(DEFAULT_RETRY_POLICY)).toBe(true);
    expect(resolveRetryPolicy({ maxAttempts: 2 }).maxAttempts).toBe(2);
    expect(() => resolveRetryPolicy({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => resolveRetryPolicy({ deadlineMs: 0 })).toThrow(RangeError);
    expect(() => resolveRetryPolicy({ backoff: { baseMs: 10, maxMs: 1, jitter: 0 } })).toThrow(RangeError);
  });

  it.each([
    ['BtpRateLimited', true],
    ['BtpServerError', true],
    ['BtpUnreachable', true],
    ['BtpTimeout', true],
    ['BtpBadRequest', false],
    ['BtpUnauthorized', false],
    ['BtpForbidden', false],
    ['BtpNotFound', false],
    ['BtpConflict', false],
    ['BtpConcurrentOperation', false],
    ['BtpTLSHandshakeFailed', false],
    ['BtpServerCertificateUntrusted', false],
    ['BtpUnsupportedCredential', false],
    ['BtpUnexpectedResponse', false],
  ] as const)('retries %s within a call: %s', (code, expected) => {
    expect(isRetriable(failure(code), true)).toBe(expected);
  });

  it('does not retry anything that is not a BtpError', () => {
    expect(isRetriable(new Error('bug'), true)).toBe(false);
  });

  it('repeats a non-idempotent request only when it cannot have reached the server', () => {
    expect(isRetriable(failure('BtpUnreachable', { requestSent: false }), false)).toBe(true);
    expect(isRetriable(failure('BtpUnreachable'), false)).toBe(false);
    expect(isRetriable(failure('BtpTimeout'), false)).toBe(false);
    expect(isRetriable(failure('BtpRateLimited'), false)).toBe(true);
    expect(isRetriable(failure('BtpServerError'), false)).toBe(true);
  });

  it('backs off exponentially, capped', () => {
    const delays = [1, 2, 3].map((attempt) =>
      retryDecision(POLICY, failure('BtpServerError'), attempt, 0, true, noJitter),
    );
    expect(delays).toEqual([
      { retry: true, delayMs: 100 },
      { retry: true, delayMs: 200 },
      { retry: true, delayMs: 400 },
    ]);
    const capped = retryDecision(
      { ...POLICY, maxAttempts: 20 },
      failure('BtpServerError'),
      10,
      0,
      true,
      noJitter,
    );
    expect(capped).toEqual({ retry: true, delayMs: 1_000 });
  });

  it('never retries sooner than Retry-After says', () => {
    expect(
      retryDecision(POLICY, failure('BtpRateLimited', { retryAfterMs: 3_000 }), 1, 0, true, noJitter),
    ).toEqual({
      retry: true,
      delayMs: 3_000,
    });
    // A shorter Retry-After than the backoff: the backoff wins.
    expect(
      retryDecision(POLICY, failure('BtpRateLimited', { retryAfterMs: 10 }), 3, 0, true, noJitter),
    ).toEqual({
      retry: true,
      delayMs: 400,
    });
  });

  it('gives up when Retry-After asks for more than it may wait, or the deadline would pass', () => {
    expect(
      retryDecision(POLICY, failure('BtpRateLimited', { retryAfterMs: 6_000 }), 1, 0, true, noJitter).retry,
    ).toBe(false);
    expect(
      retryDecision(POLICY, failure('BtpRateLimited', { retryAfterMs: 4_000 }), 1, 7_000, true, noJitter)
        .retry,
    ).toBe(false);
    expect(retryDecision(POLICY, failure('BtpServerError'), 4, 0, true, noJitter).retry).toBe(false);
  });

  it('spreads delays with the injected random function', () => {
    const jittery = { ...POLICY, backoff: { ...POLICY.backoff, jitter: 0.5 } };
    expect(retryDecision(jittery, failure('BtpServerError'), 1, 0, true, () => 0)).toEqual({
      retry: true,
      delayMs: 50,
    });
    expect(retryDecision(jittery, failure('BtpServerError'), 1, 0, true, () => 0.999999)).toEqual({
      retry: true,
      delayMs: 150,
    });
  });
});

describe('withRetry', () => {
  it('waits on the injected clock between attempts and returns the first success', async () => {
    const clock = new FakeClock();
    const attempts: number[] = [];
    const result = withRetry(
      async ({ attempt }) => {
        attempts.push(clock.nowMs());
        if (attempt < 3) throw failure('BtpServerError');
        return 'ok';
      },
      { policy: POLICY, clock, random: noJitter, idempotent: true },
    );
    await clock.advance(10_000);
    await expect(result).resolves.toBe('ok');
    const start = attempts[0] ?? 0;
    expect(attempts.map((at) => at - start)).toEqual([0, 100, 300]);
  });

  it('throws the last error when it stops, and never retries a terminal one', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const terminal = withRetry(
      async () => {
        calls += 1;
        throw failure('BtpConflict');
      },
      { policy: POLICY, clock, random: noJitter, idempotent: true },
    );
    await expect(terminal).rejects.toMatchObject({ code: 'BtpConflict' });
    expect(calls).toBe(1);

    calls = 0;
    const exhausted = withRetry(
      async () => {
        calls += 1;
        throw failure('BtpUnreachable');
      },
      { policy: POLICY, clock, random: noJitter, idempotent: true },
    );
    const settled = exhausted.catch((error: unknown) => error);
    await clock.advance(10_000);
    expect(await settled).toMatchObject({ code: 'BtpUnreachable' });
    expect(calls).toBe(4);
  });

  it('passes the time left of the deadline to each attempt', async () => {
    const clock = new FakeClock();
    const remaining: number[] = [];
    const run = withRetry(
      async ({ remainingMs }) => {
        remaining.push(remainingMs);
        await sleep(clock, 1_000).promise;
        throw failure('BtpTimeout');
      },
      { policy: POLICY, clock, random: noJitter, idempotent: true },
    ).catch((error: unknown) => error);
    await clock.advance(20_000);
    await run;
    expect(remaining).toEqual([10_000, 8_900, 7_700, 6_300]);
  });
});
