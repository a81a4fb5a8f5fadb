// Failpoints: named places where a test can have the operator process die (SIGKILL) to prove that
// what it left behind is recovered. Inert unless BTPCERTS_FAILPOINT names one (config.ts reads it);
// never set in a deployment. "name" dies the first time the point is reached, "name:N" the N-th.

export const FAILPOINTS = [
  'after-binding-created',
  'after-secret-written',
  'before-retired-deleted',
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

export type Failpoints = { readonly hit: (point: Failpoint) => void };

export const noFailpoints: Failpoints = { hit: () => {} };

export function parseFailpoint(text: string): { point: Failpoint; nth: number } | undefined {
  const [name, n] = text.split(':');
  const point = FAILPOINTS.find((p) => p === name);
  const nth = n === undefined ? 1 : Number(n);
  if (point === undefined || !Number.isInteger(nth) || nth < 1) return undefined;
  return { point, nth };
}

/** Failpoints that kill this process with SIGKILL at the chosen point. */
export function killingFailpoints(spec: { point: Failpoint; nth: number }, onHit: () => void): Failpoints {
  let count = 0;
  return {
    hit: (point) => {
      if (point !== spec.point) return;
      count += 1;
      if (count === spec.nth) {
        onHit();
        process.kill(process.pid, 'SIGKILL');
      }
    },
  };
}
