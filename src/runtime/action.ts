// What a reconcile asks of the runtime when it succeeds. The reconciler is never told why it
// ran; it only says when it wants to run again. Errors are not Actions: they go through the
// queue's error policy (see errors.ts and queue.ts).

export type Action = { readonly requeueAfterMs: number } | { readonly awaitChange: true };

/** Run again after `ms` (capped by the queue at its resync period). */
export function requeue(ms: number): Action {
  if (!Number.isFinite(ms) || ms < 0)
    throw new RangeError(`requeue: delay must be a finite, non-negative number of ms, got ${ms}`);
  return { requeueAfterMs: ms };
}

/** Nothing to do until the object changes (or the periodic resync comes round). */
export function awaitChange(): Action {
  return { awaitChange: true };
}

export function isRequeue(a: Action): a is { readonly requeueAfterMs: number } {
  return 'requeueAfterMs' in a;
}

/** Combines two wishes: the sooner requeue wins; awaitChange only if both await a change. */
export function earliest(a: Action, b: Action): Action {
  if (isRequeue(a) && isRequeue(b)) return a.requeueAfterMs <= b.requeueAfterMs ? a : b;
  if (isRequeue(a)) return a;
  return b;
}
