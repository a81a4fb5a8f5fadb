// The status write as a JSON merge patch (RFC 7386) from the stored status to the decided one:
// changed and new fields, null for fields the decision dropped (a merge patch of the whole status
// would leave them on the server, e.g. failedAttempts after a success, and the status would differ
// from the decision on every reconcile), objects recursed into, arrays and scalars replaced whole.
import { isRecord } from '../runtime/is-record.ts';
import { stableStringify } from './stable-json.ts';

/** The merge patch that turns `from` into `to`; empty when they are equal. Undefined counts as absent. */
export function statusPatch(
  from: Readonly<Record<string, unknown>>,
  to: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const [key, before] of Object.entries(from)) {
    if (before !== undefined && to[key] === undefined) patch[key] = null;
  }
  for (const [key, after] of Object.entries(to)) {
    if (after === undefined) continue;
    const before = from[key];
    if (isRecord(before) && isRecord(after)) {
      const inner = statusPatch(before, after);
      if (Object.keys(inner).length > 0) patch[key] = inner;
    } else if (stableStringify(before) !== stableStringify(after)) {
      patch[key] = after;
    }
  }
  return patch;
}
