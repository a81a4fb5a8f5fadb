// The finalizer of a BTPCertificate (ADR 0008), a helper beside the reconcile, not a branch of
// it: delete every binding, record that, release the access Secret if no other certificate needs
// it, let go. Each step is idempotent and leaves its progress in the API.
import type { Logger } from 'pino';
import { parseBTPCertificate } from '../api/parse.ts';
import type { BTPCertificate, Condition } from '../api/types.ts';
import {
  CLEANED_UP_REASON,
  heldAccessSecret,
  mayRelease,
  needsAccess,
  recordedBindings,
} from './access-in-use.ts';
import { BINDINGS_FINALIZER } from './bindings.ts';
import { deletionConditions } from './decide.ts';
import type { ReconcileDeps } from './reconcile.ts';
import { deleteAllBindings, releaseAccessSecret, removeFinalizer } from './service-manager-reconcile.ts';
import { clientFor, smFailure } from './service-manager-source.ts';
import { stableStringify } from './stable-json.ts';

/**
 * The finalizer: every binding of the BTPCertificate is deleted (unless Retain) and that is
 * recorded in status; then its access Secret is released if no other BTPCertificate still needs
 * it; then the BTPCertificate may go. Each step is idempotent and leaves its progress in the API
 * (status, finalizers), so a run that dies anywhere, or an operator restarted in the middle of a
 * namespace's teardown, takes it up where it was. A BTPCertificate that cannot delete its
 * bindings keeps its finalizer and says why in status, not in an Event: a namespace being deleted
 * takes no new Events.
 */
export async function finalize(cert: BTPCertificate, deps: ReconcileDeps): Promise<void> {
  if (!(cert.metadata.finalizers ?? []).includes(BINDINGS_FINALIZER)) return;
  const log = deps.logger.child({ certificate: `${cert.metadata.namespace}/${cert.metadata.name}` });
  let current = cert;
  if (needsAccess(cert)) {
    const cleaned = await deleteBindingsOf(cert, deps, log);
    if (cleaned === undefined) return;
    current = cleaned;
  }
  const held = heldAccessSecret(current, deps.sm.defaultCredentials);
  if (held !== undefined) {
    // A consistent read: two certificates finishing at once each see the other's cleanup.
    const others = (await deps.kube.listCertificates(held.namespace))
      .map(parseBTPCertificate)
      .filter((c) => c !== undefined);
    if (mayRelease(current, held, others, deps.sm.defaultCredentials)) {
      if (await releaseAccessSecret(deps.kube, held))
        log.info({ secret: held.name }, 'access Secret released');
    }
  }
  await removeFinalizer(current, deps.kube);
  await deps.sm.sessions.forget(cert.metadata.uid);
}

/**
 * Deletes every binding of a BTPCertificate being deleted and records that in status; returns it
 * as it is after that write. Undefined when they cannot be deleted: status says why, and the
 * finalizer stays (until the access comes back or deletionPolicy is set to Retain).
 */
async function deleteBindingsOf(
  cert: BTPCertificate,
  deps: ReconcileDeps,
  log: Logger,
): Promise<BTPCertificate | undefined> {
  const now = deps.clock.now();
  const recorded = recordedBindings(cert.status);
  const sm = await clientFor(cert, deps.sm);
  if (sm === undefined && recorded.length > 0) {
    const spec = cert.spec.source.serviceManager;
    const ref = spec?.credentialsSecretRef
      ? { namespace: cert.metadata.namespace, name: spec.credentialsSecretRef.name }
      : deps.sm.defaultCredentials;
    // Restoring the Secret wakes this BTPCertificate.
    if (ref !== undefined) {
      deps.dependencies.record(`${cert.metadata.namespace}/${cert.metadata.name}`, [
        { kind: 'secret', object: `${ref.namespace}/${ref.name}` },
      ]);
    }
    const where =
      ref === undefined ? 'no access Secret is named' : `Secret ${ref.name} is missing or unusable`;
    const message = `its BTP bindings cannot be deleted: ${where} (bindings ${recorded.join(', ')}); restore the Secret, or set spec.deletionPolicy: Retain and delete them in BTP`;
    await writeDeletionStatus(cert, deletionConditions(cert, 'BindingsNotDeleted', message, true, now), deps);
    log.warn({ bindings: recorded.length }, 'bindings cannot be deleted: no Service Manager access');
    return undefined;
  }
  let n = 0;
  if (sm !== undefined) {
    try {
      n = await deleteAllBindings(cert, sm, deps.sm.sessions);
    } catch (e) {
      // Said in status (and by an Event where the namespace still takes them), then retried by
      // the queue with backoff until Service Manager answers.
      const failure = smFailure(e);
      const message = `its BTP bindings could not be deleted yet: ${failure.message}; retrying`;
      await writeDeletionStatus(
        cert,
        deletionConditions(cert, failure.reason, message, failure.stalls, now),
        deps,
      );
      await deps.events.record(
        { namespace: cert.metadata.namespace, name: cert.metadata.name, uid: cert.metadata.uid },
        { type: 'Warning', reason: 'BindingDeletionFailed', message },
      );
      throw e;
    }
  }
  // Without access and with nothing recorded, no binding was ever created: its access Secret never
  // existed or never worked. That must not hold the BTPCertificate (or its namespace) forever.
  const message =
    sm === undefined
      ? 'no bindings were recorded and there is no Service Manager access: nothing to delete'
      : `all its BTP bindings were deleted (${n})`;
  const conditions = deletionConditions(cert, CLEANED_UP_REASON, message, false, now);
  const resourceVersion = await deps.kube.patchCertificateStatus(
    cert.metadata.namespace,
    cert.metadata.name,
    { observedGeneration: cert.metadata.generation, binding: null, retiredBindings: null, conditions },
  );
  log.info({ bindings: n }, 'bindings deleted');
  const { binding: _b, retiredBindings: _r, ...status } = cert.status ?? {};
  return {
    ...cert,
    metadata: { ...cert.metadata, resourceVersion },
    status: { ...status, observedGeneration: cert.metadata.generation, conditions },
  };
}

/** Writes the conditions of a BTPCertificate being deleted, when they changed. */
async function writeDeletionStatus(
  cert: BTPCertificate,
  conditions: Condition[],
  deps: ReconcileDeps,
): Promise<void> {
  const observedGeneration = cert.metadata.generation;
  const unchanged =
    cert.status?.observedGeneration === observedGeneration &&
    stableStringify(conditions) === stableStringify(cert.status?.conditions ?? []);
  if (unchanged) return;
  await deps.kube.patchCertificateStatus(cert.metadata.namespace, cert.metadata.name, {
    observedGeneration,
    conditions,
  });
}
