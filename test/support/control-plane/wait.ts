// Polling until a condition holds. Deadlines are generous on purpose: tests and the harness wait
// on conditions and never assert how long something took.
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** What is being waited for, used in the timeout error ("timed out waiting for <description>"). */
  readonly description: string;
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Stops waiting early, rejecting with the signal's reason (e.g. the awaited process died). */
  readonly signal?: AbortSignal;
}

export const DEFAULT_WAIT_TIMEOUT_MS = 60_000;
export const DEFAULT_WAIT_INTERVAL_MS = 200;

/**
 * Calls `check` until it returns something other than `undefined` or `false`, and returns that.
 * A thrown error counts as "not yet"; the last one is reported if the deadline passes.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_WAIT_INTERVAL_MS;
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const result = await check();
      if (result !== undefined && result !== false) return result;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    options.signal?.throwIfAborted();
    if (performance.now() >= deadline) {
      const cause = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.description}${cause}`, {
        cause: lastError,
      });
    }
    try {
      await sleep(intervalMs, undefined, options.signal ? { signal: options.signal } : {});
    } catch {
      options.signal?.throwIfAborted();
    }
  }
}
