import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, sleep, systemClock } from '../../../src/runtime/clock.ts';
import { FakeClock } from '../../support/fake-clock.ts';

describe('systemClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires a timer after its delay and not before', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    systemClock.setTimer(fn, 1_000);
    vi.advanceTimersByTime(999);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledOnce();
  });

  it('chains delays longer than Node can represent instead of firing at once', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const days40 = 40 * 24 * 3_600_000;
    expect(days40).toBeGreaterThan(MAX_TIMER_MS);
    systemClock.setTimer(fn, days40);
    vi.advanceTimersByTime(1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(days40 - MAX_TIMER_MS - 2);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledOnce();
  });

  it('cancels, also in the middle of a chain, and cancel is idempotent', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const timer = systemClock.setTimer(fn, MAX_TIMER_MS * 2);
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    timer.cancel();
    timer.cancel();
    vi.advanceTimersByTime(MAX_TIMER_MS * 2);
    expect(fn).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('treats negative and NaN delays as zero', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    systemClock.setTimer(fn, -5);
    systemClock.setTimer(fn, Number.NaN);
    vi.advanceTimersByTime(0);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('reads the wall clock', () => {
    vi.useFakeTimers({ now: new Date('2030-05-06T07:08:09Z') });
    expect(systemClock.now().toISOString()).toBe('2030-05-06T07:08:09.000Z');
    expect(systemClock.nowMs()).toBe(Date.parse('2030-05-06T07:08:09Z'));
  });
});

describe('FakeClock', () => {
  it('fires due timers in order of due time, ties in order set, each at its own time', async () => {
    const clock = new FakeClock(0);
    const fired: string[] = [];
    clock.setTimer(() => fired.push(`b@${clock.nowMs()}`), 20);
    clock.setTimer(() => fired.push(`a@${clock.nowMs()}`), 10);
    clock.setTimer(() => fired.push(`c@${clock.nowMs()}`), 20);
    clock.setTimer(() => fired.push(`late@${clock.nowMs()}`), 31);
    await clock.advance(30);
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
    expect(clock.nowMs()).toBe(30);
    expect(clock.pendingTimers).toBe(1);
  });

  it('fires timers set by timers and by promise callbacks within the same advance', async () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    clock.setTimer(async () => {
      fired.push(clock.nowMs());
      await Promise.resolve();
      clock.setTimer(() => fired.push(clock.nowMs()), 5);
    }, 10);
    await clock.advance(15);
    expect(fired).toEqual([10, 15]);
  });

  it('does not fire cancelled timers', async () => {
    const clock = new FakeClock(0);
    const fn = vi.fn();
    clock.setTimer(fn, 10).cancel();
    await clock.advance(100);
    expect(fn).not.toHaveBeenCalled();
  });

  it('set() jumps to a date, firing what fell due; going back fires nothing', async () => {
    const clock = new FakeClock(new Date('2026-01-01T00:00:00Z'));
    const fn = vi.fn();
    clock.setTimer(fn, 3_600_000);
    await clock.set(new Date('2025-12-31T00:00:00Z'));
    expect(fn).not.toHaveBeenCalled();
    await clock.set(new Date('2026-01-02T00:00:00Z'));
    expect(fn).toHaveBeenCalledOnce();
    expect(clock.now().toISOString()).toBe('2026-01-02T00:00:00.000Z');
  });

  it('sleep() resolves after the delay, or never once cancelled', async () => {
    const clock = new FakeClock(0);
    let done = 0;
    void sleep(clock, 10).promise.then(() => done++);
    const cancelled = sleep(clock, 10);
    void cancelled.promise.then(() => done++);
    cancelled.cancel();
    await clock.advance(9);
    expect(done).toBe(0);
    await clock.advance(1);
    expect(done).toBe(1);
    await clock.advance(100);
    expect(done).toBe(1);
  });
});
