// The one helper that sets conditions: lastTransitionTime changes only when the status flips,
// observedGeneration is stamped on each. Only decide.ts's writeConditions calls it.
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

/** The order conditions are listed in: Ready first. */
export const byConditionOrder = (a: Condition, b: Condition): number => order(a.type) - order(b.type);

const ORDER: readonly string[] = ['Ready', 'TokenReady', 'Renewal', 'Reconciling', 'Stalled'];
const order = (type: string) => {
  const i = ORDER.indexOf(type);
  return i === -1 ? ORDER.length : i;
};

export const findCondition = (conditions: readonly Condition[] | undefined, type: ConditionType) =>
  conditions?.find((c) => c.type === type);
