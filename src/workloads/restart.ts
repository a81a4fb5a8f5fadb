// Workload restarts on rotation, opt-in: a Deployment, StatefulSet or DaemonSet annotated
// `btpcerts.io/restart-on-rotation: "<secret>[,<secret>]"` gets its pod template annotated when the
// data of one of those (operator-managed) Secrets changes: once per change, never for a change of
// metadata only. Pure decisions; the shell is ./controller.ts.
import { createHash } from 'node:crypto';

export const RESTART_ON_ROTATION_ANNOTATION = 'btpcerts.io/restart-on-rotation';
/** On the workload's metadata: the data hashes it last saw (recording it restarts nothing). */
export const OBSERVED_HASH_ANNOTATION = 'btpcerts.io/secrets-hash';
/** On the pod template: changing it rolls the pods. */
export const RESTARTED_AT_ANNOTATION = 'btpcerts.io/restarted-at';

export function secretNames(annotation: string | undefined): string[] {
  if (annotation === undefined) return [];
  return [
    ...new Set(
      annotation
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
  ].sort();
}

/** One hash over the data hashes of the named Secrets ('' for a Secret that is not there). */
export function combinedHash(
  names: readonly string[],
  dataHashOf: (name: string) => string | undefined,
): string {
  const h = createHash('sha256');
  for (const name of names) h.update(`${name}=${dataHashOf(name) ?? ''}\n`);
  return h.digest('hex').slice(0, 32);
}

export type WorkloadPatch = {
  readonly metadata: { readonly annotations: Record<string, string> };
  readonly spec?: {
    readonly template: { readonly metadata: { readonly annotations: Record<string, string> } };
  };
};

/**
 * The patch for a workload, or undefined when nothing is to be done. The first time a workload is
 * seen its hash is only recorded: opting in does not restart anything.
 */
export function workloadPatch(
  annotations: Readonly<Record<string, string>>,
  hash: string,
  now: Date,
): WorkloadPatch | undefined {
  const seen = annotations[OBSERVED_HASH_ANNOTATION];
  if (seen === hash) return undefined;
  const record = { metadata: { annotations: { [OBSERVED_HASH_ANNOTATION]: hash } } };
  if (seen === undefined) return record;
  return {
    ...record,
    spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: now.toISOString() } } } },
  };
}
