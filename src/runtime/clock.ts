// The one clock of the operator. Everything that needs the time or a timer receives a Clock;
// this is the only module in src/ that reads the wall clock or arms a Node timer, so tests can
// replace time wholesale with a fake (test/support/fake-clock.ts).

export interface Timer {
  /** Idempotent; a no-op after the timer fired. */
  cancel(): void;
}

export interface Clock {
  now(): Date;
  nowMs(): number;
  /** Calls `fn` once, `ms` from now (negative or NaN delays mean "as soon as possible"). */
  setTimer(fn: () => void, ms: number): Timer;
}

/** Node's setTimeout fires immediately for delays above 2^31-1 ms (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay that is a finite, non-negative number of milliseconds. */
export function normalizeDelay(ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return ms;
}

export const systemClock: Clock = {
  now: () => new Date(),
  nowMs: () => Date.now(),
  setTimer(fn, ms) {
    const dueMs = Date.now() + normalizeDelay(ms);
    let handle: NodeJS.Timeout | undefined;
    let done = false;
    // Long delays are chained in steps Node can represent, re-reading the clock at each step.
    const arm = (): void => {
      const remaining = dueMs - Date.now();
      if (remaining > MAX_TIMER_MS) {
        handle = setTimeout(arm, MAX_TIMER_MS);
        return;
      }
      handle = setTimeout(
        () => {
          done = true;
          handle = undefined;
          fn();
        },
        Math.max(0, remaining),
      );
    };
    arm();
    return {
      cancel() {
        if (done) return;
        done = true;
        if (handle !== undefined) clearTimeout(handle);
        handle = undefined;
      },
    };
  },
};

/** Resolves after `ms` on `clock`; never resolves if the returned `cancel` runs first. */
export function sleep(clock: Clock, ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: Timer | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = clock.setTimer(resolve, ms);
  });
  return { promise, cancel: () => timer?.cancel() };
}
