// The BTPCertificate controller's reconcile. It is never told why it ran; it reads the current
// state. A live BTPCertificate goes through three steps, in this order (ADR 0009):
//
//   gather (gather.ts)   I/O only: the source (serviceManager: the issuance step, a candidate
//                        binding), the password, the Secret, the token check of what would become
//                        current. Each step returns a value.
//   decide (decide.ts)   pure, once: the chains in policies/ (candidate choice, readiness, renewal
//                        trigger, issuance settlement, token gate, Ready) make the whole plan, and
//                        every condition is written there and nowhere else.
//   act (act.ts)         the plan in a fixed order: Secret, rotation request, binding deletions,
//                        status, Events, token Secret, orphan sweep.
//
// Before them, a serviceManager certificate puts its finalizer on itself and holds its access
// Secret (ADR 0008); a certificate being deleted goes to the finalizer (finalizer.ts) instead.
import type { Logger } from 'pino';
import { parseBTPCertificate } from '../api/parse.ts';
import type { BTPCertificate } from '../api/types.ts';
import type { KubeApi } from '../kube/api.ts';
import type { EventRecorder } from '../kube/events.ts';
import { type Action, awaitChange, requeue } from '../runtime/action.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Failpoints } from '../runtime/failpoints.ts';
import { type AccessHold, heldAccessSecret } from './access-in-use.ts';
import { act } from './act.ts';
import { BINDINGS_FINALIZER } from './bindings.ts';
import { decide } from './decide.ts';
import type { DependencyIndex } from './dependencies.ts';
import type { DestinationDeps } from './destination-source.ts';
import { finalize } from './finalizer.ts';
import { gather } from './gather.ts';
import type { OwnWrites } from './own-writes.ts';
import {
  ensureFinalizer,
  holdAccessSecret,
  releaseUnneededAccessSecrets,
} from './service-manager-reconcile.ts';
import type { SmDeps } from './service-manager-source.ts';
import type { TokenCheckPort } from './token-reconcile.ts';

/** A ServiceBinding as the cache (or the API) has it. */
export type ServiceBindingLookup =
  | { readonly kind: 'found'; readonly object: unknown }
  | { readonly kind: 'absent' }
  /** The services.cloud.sap.com ServiceBinding CRD is not installed. */
  | { readonly kind: 'api-missing' };

/** What the reconciler reads from caches; the informers behind it belong to the controller. */
export type Caches = {
  readonly certificate: (namespace: string, name: string) => unknown;
  readonly serviceBinding: (namespace: string, name: string) => Promise<ServiceBindingLookup>;
};

export type ReconcileDeps = {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly kube: KubeApi;
  readonly events: EventRecorder;
  readonly caches: Caches;
  readonly dependencies: DependencyIndex;
  readonly sm: SmDeps;
  readonly destination: DestinationDeps;
  readonly tokens: TokenCheckPort;
  readonly failpoints: Failpoints;
  /** The versions act's writes produced: their watch events do not wake the certificate again. */
  readonly ownWrites: OwnWrites;
};

export async function reconcileCertificate(key: string, deps: ReconcileDeps): Promise<Action> {
  const [namespace = '', name = ''] = key.split('/');
  const cert = parseBTPCertificate(deps.caches.certificate(namespace, name));
  if (cert === undefined) {
    await forgetCertificate(key, deps);
    return awaitChange();
  }
  const issues = cert.spec.source.serviceManager !== undefined;
  if (cert.metadata.deletionTimestamp !== undefined) {
    await deps.tokens.forget(key);
    if (issues || (cert.metadata.finalizers ?? []).includes(BINDINGS_FINALIZER)) await finalize(cert, deps);
    return awaitChange();
  }
  if (issues && !(cert.metadata.finalizers ?? []).includes(BINDINGS_FINALIZER)) {
    // Bindings are created only once the finalizer that deletes them is in place.
    await ensureFinalizer(cert, deps.kube);
    return awaitChange();
  }
  // ...and once the access Secret the finalizer needs is held for it (./access-in-use.ts).
  const access = issues ? await holdAccess(cert, deps) : undefined;
  if (issues && cert.status?.observedGeneration !== cert.metadata.generation) {
    // A new spec may name another access Secret: the one it named before may be free now.
    const released = await releaseUnneededAccessSecrets(deps.kube, namespace, deps.sm.defaultCredentials);
    if (released.length > 0) deps.logger.info({ secrets: released }, 'access Secrets released');
  }

  const gathered = await gather(cert, access, deps);
  const plan = decide(gathered.observed);
  await act(gathered, plan, deps);

  if (plan.requeueAt === undefined) return awaitChange();
  return requeue(Math.max(1000, plan.requeueAt.getTime() - deps.clock.nowMs()));
}

/**
 * Drops what the controller keeps for a BTPCertificate that is gone: its dependencies, its
 * Service Manager and Destination state, its token pool. Also when its finalizer never ran (removed
 * by hand, or the delete was seen while another replica led): nothing of it may stay in memory.
 */
export async function forgetCertificate(
  key: string,
  deps: Pick<ReconcileDeps, 'dependencies' | 'tokens' | 'destination' | 'sm' | 'ownWrites'>,
): Promise<void> {
  deps.dependencies.forget(key);
  deps.ownWrites.forget(`certificate:${key}`);
  await deps.sm.sessions.forgetKey(key);
  await deps.destination.sessions?.forget(key);
  await deps.tokens.forget(key);
}

/** Holds the access Secret of a serviceManager source; undefined for the operator-wide default. */
async function holdAccess(cert: BTPCertificate, deps: ReconcileDeps): Promise<AccessHold | undefined> {
  const ref = heldAccessSecret(cert, deps.sm.defaultCredentials);
  return ref === undefined ? undefined : holdAccessSecret(deps.kube, ref);
}
