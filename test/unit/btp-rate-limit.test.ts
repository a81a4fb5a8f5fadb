import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/btp/rate-limit.ts';
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

  it('never exceeds the documented 600 binding calls per minute with the default limit', async () => {
    const clock = new FakeClock(new Date('2026-01-01T00:00:00Z'));
    const bucket = new TokenBucket(clock);
    let n = 0;
    for (let i = 0; i < 1000; i++) void bucket.take().then(() => n++);
    await clock.advance(60_000);
    expect(n).toBeLessThanOrEqual(600);
    expect(n).toBeGreaterThan(400);
  });
});
