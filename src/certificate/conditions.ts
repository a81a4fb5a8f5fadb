// The one helper that sets conditions: lastTransitionTime changes only when the status flips,
// observedGeneration is stamped on each.
import type { ConditionType, Reason } from '../api/conditions.ts';
import { iso } from '../api/time.ts';
import type { Condition } from '../api/types.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';
export type DesiredCondition = {
  readonly type: ConditionType;
  readonly status: ConditionStatus;
  readonly reason: Reason;
  readonly message: string;
};

/** Returns the conditions with `desired` set; the others are kept as they are. */
export function setCondition(
  conditions: readonly Condition[],
  desired: DesiredCondition,
  now: Date,
  generation: number,
): Condition[] {
  const previous = conditions.find((c) => c.type === desired.type);
  const next: Condition = {
    type: desired.type,
    status: desired.status,
    observedGeneration: generation,
    lastTransitionTime:
      previous !== undefined && previous.status === desired.status ? previous.lastTransitionTime : iso(now),
    reason: desired.reason,
    message: desired.message,
  };
  const others = conditions.filter((c) => c.type !== desired.type);
  return [...others, next].sort(byConditionOrder);
}

/**
 * The conditions one reconcile settled on, each with its stored lastTransitionTime unless its status
 * differs from the stored one. The steps of a decision may pass a condition through another status
 * on the way (Ready True from the credentials, then False from the token check): measured against
 * the step before, that looks like a transition each time, and a new lastTransitionTime on every
 * reconcile is a status write on every reconcile.
 */
export function keepTransitionTimes(
  stored: readonly Condition[] | undefined,
  next: readonly Condition[],
): Condition[] {
  return next.map((c) => {
    const before = stored?.find((s) => s.type === c.type);
    return before !== undefined &&
      before.status === c.status &&
      before.lastTransitionTime !== c.lastTransitionTime
      ? { ...c, lastTransitionTime: before.lastTransitionTime }
      : c;
  });
}

/** The order conditions are listed in: Ready first. */
export const byConditionOrder = (a: Condition, b: Condition): number => order(a.type) - order(b.type);

const ORDER: readonly string[] = ['Ready', 'TokenReady', 'Renewal', 'Reconciling', 'Stalled'];
const order = (type: string) => {
  const i = ORDER.indexOf(type);
  return i === -1 ? ORDER.length : i;
};

export const findCondition = (conditions: readonly Condition[] | undefined, type: ConditionType) =>
  conditions?.find((c) => c.type === type);
