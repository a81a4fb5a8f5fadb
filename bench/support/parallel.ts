/** Calls `call(i)` for i in [0, count), at most `parallel` at a time. */
export async function inParallel(
  count: number,
  parallel: number,
  call: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await call(next++);
    }),
  );
}

export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * fraction) - 1)] ?? Number.NaN;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `done` every 500 ms; rejects with `why()` after `timeoutMs`. */
export async function waitUntil(done: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`${why()} after ${timeoutMs} ms`);
    await sleep(500);
  }
}
