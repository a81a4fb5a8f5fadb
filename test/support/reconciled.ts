// Before a test claims that the operator did nothing about a change, it must know that the
// operator has processed the change: a negative check after a fixed sleep passes by default when
// the operator is slow. These helpers wait for that proof from the operator running in the test
// process (test/support/operator.ts).
import { readFileSync } from 'node:fs';
import { waitFor } from './kube.ts';
import type { RunningOperator } from './operator.ts';

type Meta = { metadata?: { namespace?: string; name?: string } };

/** The BTPCertificate as the operator's informer holds it. */
export function cachedCertificate(running: RunningOperator, namespace: string, name: string): unknown {
  return running.controller
    .cachedCertificates()
    .find((o) => (o as Meta).metadata?.namespace === namespace && (o as Meta).metadata?.name === name);
}

/**
 * Resolves once the operator has finished a reconcile of the BTPCertificate `namespace/name` that
 * started after its informer held a version for which `seen` is true.
 *
 * Once the informer holds it, the key has been added to the work queue (the informer's listeners
 * run as it updates its cache), so it was queued due at once or, if running, marked to run again;
 * unless that version is the operator's own write (src/certificate/own-writes.ts), which the run
 * that made it already accounted for.
 * It is done when it is neither running nor marked, and either not queued at all or queued only for
 * later than that moment: the state a run leaves behind.
 */
export async function reconciledAfter(
  running: RunningOperator,
  namespace: string,
  name: string,
  seen: (cached: unknown) => boolean,
  description: string,
): Promise<void> {
  const held = await waitFor(
    () => {
      const cached = cachedCertificate(running, namespace, name);
      return cached !== undefined && seen(cached) ? Date.now() : undefined;
    },
    { description: `the operator's cache holds ${description}`, intervalMs: 20 },
  );
  const queue = running.controller.queue;
  await waitFor(
    () => {
      const state = queue.inspect(`${namespace}/${name}`);
      if (state === undefined) return true;
      return (
        !state.running &&
        state.rerunDueMs === undefined &&
        (!state.queued || (state.dueMs ?? Number.POSITIVE_INFINITY) > held)
      );
    },
    { description: `the operator reconciled ${description}`, intervalMs: 20 },
  );
}

/**
 * Resolves once the operator's log shows a run of the work queue key `key` (of either controller)
 * that started at `sinceMs` or later (its log time less its duration), with its log line.
 * For queues the test cannot inspect (the workload controller's).
 */
export async function ranSince(
  running: RunningOperator,
  key: string,
  sinceMs: number,
  description: string,
): Promise<void> {
  await waitFor(
    () =>
      readFileSync(running.logFile, 'utf8')
        .split('\n')
        .filter((line) => line.includes(JSON.stringify(key)))
        .map((line) => JSON.parse(line) as { key?: string; msg?: string; time?: string; durationMs?: number })
        .some(
          (entry) =>
            entry.key === key &&
            entry.msg === 'reconciled' &&
            Date.parse(entry.time ?? '') - (entry.durationMs ?? Number.POSITIVE_INFINITY) >= sinceMs,
        ),
    { description: `a run of ${key} for ${description}`, intervalMs: 50 },
  );
}
