import { describe, expect, it } from 'vitest';
import { parseRetryAfter, parseRetryAfterDate, RETRY_AFTER_CAP_MS } from '../../src/btp/retry-after.ts';

const NOW = Date.UTC(2024, 10, 11, 14, 59, 30); // Mon, 11 Nov 2024 14:59:30 GMT

describe('parseRetryAfter', () => {
  it.each([
    ['delta seconds', '3', 3_000],
    ['zero seconds', '0', 0],
    ['delta seconds with spaces', ' 7 ', 7_000],
    ['IMF-fixdate', 'Mon, 11 Nov 2024 14:59:34 GMT', 4_000],
    ['RFC 850 date', 'Monday, 11-Nov-24 14:59:35 GMT', 5_000],
    ['asctime date', 'Mon Nov 11 14:59:36 2024', 6_000],
    ['asctime date, one-digit day', 'Fri Nov  1 00:00:00 2024', 0],
    ['Go time String form', '2024-11-11 14:59:33 +0000 UTC', 3_000],
    ['Go time with fraction', '2024-11-11 14:59:33.250 +0000 UTC', 3_250],
    ['Go time in another zone', '2024-11-11 15:59:33 +0100 CET', 3_000],
    ['Go time with a monotonic reading', '2024-11-11 14:59:33 +0000 UTC m=+12.5', 3_000],
    ['a date in the past', 'Mon, 11 Nov 2024 14:00:00 GMT', 0],
  ])('reads %s', (_name, header, expected) => {
    expect(parseRetryAfter(header, NOW)).toBe(expected);
  });

  it.each([
    ['empty', ''],
    ['negative', '-5'],
    ['fractional seconds', '1.5'],
    ['words', 'soon'],
    ['an impossible date', 'Sat, 31 Feb 2024 10:00:00 GMT'],
    ['an unknown month', 'Mon, 11 Foo 2024 14:59:34 GMT'],
    ['an ISO date (not one of the three forms)', '2024-11-11T14:59:33Z'],
    ['an absurdly long value', '1'.repeat(200)],
  ])('gives up on %s (the caller falls back to backoff)', (_name, header) => {
    expect(parseRetryAfter(header, NOW)).toBeUndefined();
  });

  it('accepts what undici hands over: a string, the first of several, nothing', () => {
    expect(parseRetryAfter(['2', '9'], NOW)).toBe(2_000);
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter(42, NOW)).toBeUndefined();
  });

  it('caps the delay', () => {
    expect(parseRetryAfter('999999999', NOW)).toBe(RETRY_AFTER_CAP_MS);
    expect(parseRetryAfter('120', NOW, 60_000)).toBe(60_000);
    expect(parseRetryAfter('Tue, 11 Nov 2025 14:59:30 GMT', NOW, 60_000)).toBe(60_000);
  });

  it('rounds a date with a sub-millisecond remainder up, never down', () => {
    expect(parseRetryAfter('2024-11-11 14:59:33.0000005 +0000 UTC', NOW)).toBe(3_001);
  });
});

describe('parseRetryAfterDate', () => {
  it('agrees across the three forms for the same instant', () => {
    const instant = Date.UTC(2024, 10, 11, 14, 59, 34);
    expect(parseRetryAfterDate('Mon, 11 Nov 2024 14:59:34 GMT')).toBe(instant);
    expect(parseRetryAfterDate('2024-11-11 14:59:34 +0000 UTC')).toBe(instant);
    expect(parseRetryAfterDate('2024-11-11 09:59:34 -0500 EST')).toBe(instant);
  });
});
