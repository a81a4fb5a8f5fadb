import { describe, expect, it } from 'vitest';
import { busiestWindow } from '../../bench/support/renewals.ts';
import { SM_RATE_LIMIT, SmRateLimiter, type SmRequestKind, TokenBucket } from '../../src/btp/rate-limit.ts';
import { FakeClock } from '../support/fake-clock.ts';

describe('TokenBucket', () => {
  it('lets a burst through, then paces calls at the rate, in order', async () => {
    const clock = new FakeClock(new Date('2026-01-01T00:00:00Z'));
    const bucket = new TokenBucket(clock, { perSecond: 2, burst: 3 });
    const done: number[] = [];
    const calls = [0, 1, 2, 3, 4, 5].map((i) => bucket.take().then(() => done.push(i)));
    await clock.advance(0);
    expect(done).toEqual([0, 1, 2]);
    await clock.advance(500);
    expect(done).toEqual([0, 1, 2, 3]);
    await clock.advance(1000);
    expect(done).toEqual([0, 1, 2, 3, 4, 5]);
    await Promise.all(calls);
  });
});

describe('SmRateLimiter', () => {
  // Regression: the SM limit was one bucket of 8/s with bursts of 20 in front of each port call,
  // which let a credential working without pause make 28,819 binding requests in an hour.
  it('keeps a caller requesting without pause for 2 hours under every documented limit', async () => {
    const clock = new FakeClock(new Date('2026-01-01T00:00:00Z'));
    const limiter = new SmRateLimiter(clock, SM_RATE_LIMIT);
    const endMs = clock.nowMs() + 2 * 3_600_000;
    const sent: Record<SmRequestKind, number[]> = { binding: [], other: [] };
    // Like the operator's workers: each makes one request after the other, as fast as it may.
    const worker = async (kind: SmRequestKind): Promise<void> => {
      while (clock.nowMs() < endMs) {
        await limiter.take(kind);
        sent[kind].push(clock.nowMs());
      }
    };
    const workers = [worker('binding'), worker('binding'), worker('binding'), worker('other')];
    while (clock.nowMs() < endMs) await clock.advance((clock.nextDueMs() ?? endMs) - clock.nowMs());
    await clock.advance(60_000);
    await Promise.all(workers);

    const all = [...sent.binding, ...sent.other].sort((a, b) => a - b);
    expect(busiestWindow(sent.binding, 60_000)).toBeLessThanOrEqual(600);
    expect(busiestWindow(sent.binding, 3_600_000)).toBeLessThanOrEqual(6_000);
    expect(busiestWindow(all, 60_000)).toBeLessThanOrEqual(1_000);
    expect(busiestWindow(all, 3_600_000)).toBeLessThanOrEqual(10_000);
    // ...and not far under them: the binding hour bucket allows 90 % of the documented 6,000.
    expect(busiestWindow(sent.binding, 3_600_000)).toBeGreaterThan(5_000);
  });

  it('paces binding requests at the binding rate and others at the overall rate', async () => {
    const clock = new FakeClock(new Date('2026-01-01T00:00:00Z'));
    const limiter = new SmRateLimiter(clock, {
      all: [{ perSecond: 4, burst: 1 }],
      bindings: [{ perSecond: 1, burst: 1 }],
    });
    const done: string[] = [];
    const take = (name: string, kind: SmRequestKind) => limiter.take(kind).then(() => done.push(name));
    const calls = [take('b1', 'binding'), take('o1', 'other'), take('b2', 'binding'), take('o2', 'other')];
    await clock.advance(0);
    expect(done).toEqual(['b1']);
    await clock.advance(250);
    expect(done).toEqual(['b1', 'o1']);
    // b2 waits for the binding bucket (1 s after b1), and o2 behind it: first come, first served.
    await clock.advance(500);
    expect(done).toEqual(['b1', 'o1']);
    await clock.advance(250);
    expect(done).toEqual(['b1', 'o1', 'b2']);
    await clock.advance(250);
    expect(done).toEqual(['b1', 'o1', 'b2', 'o2']);
    await Promise.all(calls);
  });
});
