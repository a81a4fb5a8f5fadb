// The simulator's only source of time. Tests that need to move time (token expiry,
// operation durations) pass their own Clock in the simulator config.
import { setTimeout as delay } from 'node:timers/promises';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` real milliseconds; rejects with an AbortError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal === undefined ? {} : { signal });
  },
};

/** A clock whose `now()` runs `offsetMs` ahead of the system clock; `advance` moves it on. */
export interface OffsetClock extends Clock {
  advance(ms: number): void;
}

export function offsetClock(initialOffsetMs = 0): OffsetClock {
  let offset = initialOffsetMs;
  return {
    now: () => systemClock.now() + offset,
    sleep: systemClock.sleep,
    advance: (ms) => {
      offset += ms;
    },
  };
}
