import { type Clock, normalizeDelay, type Timer } from '../../src/runtime/clock.ts';

interface Pending {
  readonly seq: number;
  readonly dueMs: number;
  readonly fn: () => void;
}

/** Lets every promise chain that is waiting only on microtasks run to completion. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * A Clock whose time only moves when a test says so. Timers fire in due order (ties in the
 * order they were set), each at its own due time, and promise callbacks settle after each one,
 * so `await clock.advance(ms)` behaves like `ms` of real time passing for promise-based code.
 */
export class FakeClock implements Clock {
  #nowMs: number;
  #seq = 0;
  #timers: Pending[] = [];

  constructor(start: Date | number = Date.UTC(2026, 0, 1)) {
    this.#nowMs = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.#nowMs);
  }

  nowMs(): number {
    return this.#nowMs;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const pending: Pending = { seq: this.#seq++, dueMs: this.#nowMs + normalizeDelay(ms), fn };
    this.#timers.push(pending);
    return {
      cancel: () => {
        this.#timers = this.#timers.filter((t) => t !== pending);
      },
    };
  }

  /** Number of armed timers. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Due time of the next timer, if any. */
  nextDueMs(): number | undefined {
    return this.#next()?.dueMs;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    await this.#runUntil(this.#nowMs + normalizeDelay(ms));
  }

  /** Jumps to `date`, firing the timers due by then; going backwards fires nothing. */
  async set(date: Date | number): Promise<void> {
    const target = typeof date === 'number' ? date : date.getTime();
    if (target < this.#nowMs) {
      this.#nowMs = target;
      await settle();
      return;
    }
    await this.#runUntil(target);
  }

  /** Fires timers already due at the current time (e.g. ones set with a zero delay). */
  async tick(): Promise<void> {
    await this.#runUntil(this.#nowMs);
  }

  async #runUntil(target: number): Promise<void> {
    await settle();
    for (;;) {
      const next = this.#next();
      if (next === undefined || next.dueMs > target) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#nowMs = Math.max(this.#nowMs, next.dueMs);
      next.fn();
      await settle();
    }
    this.#nowMs = Math.max(this.#nowMs, target);
    await settle();
  }

  #next(): Pending | undefined {
    let best: Pending | undefined;
    for (const t of this.#timers) {
      if (best === undefined || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.seq < best.seq))
        best = t;
    }
    return best;
  }
}
