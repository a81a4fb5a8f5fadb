// Workload restarts on rotation, opt-in twice: the operator runs them only with
// --workload-restarts, and only for a Deployment, StatefulSet or DaemonSet labelled
// `btpcerts.io/restart-on-rotation: "true"` (the only ones it lists and watches) and annotated
// `btpcerts.io/restart-on-rotation: "<secret>[,<secret>]"`: the names of operator-managed Secrets in
// the workload's own namespace. Its pod template is annotated when the data of one of them changes:
// once per change, never for a change of metadata only. Pure decisions; the shell is ./controller.ts.
import { createHash } from 'node:crypto';

/** The label that selects a workload (value "true") and the annotation that names its Secrets. */
export const RESTART_ON_ROTATION_LABEL = 'btpcerts.io/restart-on-rotation';
export const RESTART_ON_ROTATION_ANNOTATION = 'btpcerts.io/restart-on-rotation';
export const RESTART_ON_ROTATION_SELECTOR = `${RESTART_ON_ROTATION_LABEL}=true`;
/** On the workload's metadata: the data hashes it last saw (recording it restarts nothing). */
export const OBSERVED_HASH_ANNOTATION = 'btpcerts.io/secrets-hash';
/** On the pod template: changing it rolls the pods. */
export const RESTARTED_AT_ANNOTATION = 'btpcerts.io/restarted-at';

/** A Secret's name (a DNS subdomain); nothing else, so no `namespace/name` and no path. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The Secrets a workload names: in its own namespace, so an entry that is not a Secret's name
 * (`other-namespace/name` among them) names nothing and is dropped.
 */
export function secretNames(annotation: string | undefined): string[] {
  if (annotation === undefined) return [];
  return [
    ...new Set(
      annotation
        .split(',')
        .map((s) => s.trim())
        // The length first: the pattern then runs on at most 253 characters.
        .filter((s) => s.length <= 253 && SECRET_NAME.test(s)),
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
