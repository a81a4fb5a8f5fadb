// The thin shell around decide(): gather what is observed, decide, act. It never sees the watch
// event that woke it; it reads the current state.
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parseBTPCertificate } from '../api/parse.ts';
import type { BTPCertificate, Condition } from '../api/types.ts';
import type { KubeApi } from '../kube/api.ts';
import type { EventRecorder } from '../kube/events.ts';
import { decodeSecretData } from '../kube/secret-data.ts';
import { type Action, awaitChange, requeue } from '../runtime/action.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Failpoints } from '../runtime/failpoints.ts';
import { selectX509 } from '../sources/credentials.ts';
import { fieldsFromSecret } from '../sources/secret-source.ts';
import {
  FORCE_ROTATE_ANNOTATION,
  fieldsFromBindingSecret,
  SERVICE_BINDING_GROUP,
  SERVICE_BINDING_VERSION,
  viewServiceBinding,
} from '../sources/service-binding.ts';
import {
  CLEANED_UP_REASON,
  deletionConditions,
  heldAccessSecret,
  mayRelease,
  needsAccess,
  recordedBindings,
  withAccessTerminating,
} from './access-in-use.ts';
import { BINDINGS_FINALIZER } from './bindings.ts';
import { keepTransitionTimes } from './conditions.ts';
import {
  decide,
  type Observed,
  type PasswordObservation,
  type Plan,
  type SourceObservation,
} from './decide.ts';
import type { DependencyIndex, DependencyKind } from './dependencies.ts';
import {
  base64Data,
  controllerReference,
  type ExistingSecret,
  KEYSTORE_HASH_ANNOTATION,
  KEYSTORE_KEY,
  sha256,
} from './secret.ts';
import {
  type AccessHold,
  deleteAllBindings,
  deleteDueRetired,
  ensureFinalizer,
  holdAccessSecret,
  ORPHAN_SWEEP_INTERVAL_MS,
  releaseAccessSecret,
  releaseUnneededAccessSecrets,
  removeFinalizer,
  settleIssuance,
  sweepOrphans,
} from './service-manager-reconcile.ts';
import {
  clientFor,
  type Obtained,
  obtainFromServiceManager,
  type SmDeps,
  smFailure,
} from './service-manager-source.ts';
import { stableStringify } from './stable-json.ts';
import {
  applyTokenCheck,
  isDefinitiveTokenFailure,
  type TokenCheckResult,
  tokenCheckDue,
  tokenCheckEnabled,
} from './token.ts';
import {
  runTokenCheck,
  type TokenCheckPort,
  tokenSecretMissing,
  writeTokenSecret,
} from './token-reconcile.ts';

/** What the reconciler reads from caches; the informers behind it belong to the controller. */
export type Caches = {
  readonly certificate: (namespace: string, name: string) => unknown;
  /** undefined: no such ServiceBinding; 'api-missing': the CRD is not installed. */
  readonly serviceBinding: (namespace: string, name: string) => Promise<unknown>;
};

export type ReconcileDeps = {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly kube: KubeApi;
  readonly events: EventRecorder;
  readonly caches: Caches;
  readonly dependencies: DependencyIndex;
  readonly sm: SmDeps;
  readonly tokens: TokenCheckPort;
  readonly failpoints: Failpoints;
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

  const now = deps.clock.now();
  const touched: { kind: DependencyKind; object: string }[] = [];
  let obtained: Obtained | undefined;
  let source: SourceObservation;
  if (issues) {
    const smRef = cert.spec.source.serviceManager?.credentialsSecretRef;
    if (smRef) touched.push({ kind: 'secret', object: `${namespace}/${smRef.name}` });
    obtained = await obtainFromServiceManager(cert, deps.sm, now);
    if (obtained.ok && obtained.candidate) deps.failpoints.hit('after-binding-created');
    source = obtained.ok
      ? smObservation(obtained)
      : { ok: false, description: obtained.description, reason: obtained.reason, message: obtained.message };
  } else {
    source = await observeSource(cert, deps, touched);
  }
  const keystorePassword = await observePassword(cert, deps, touched);
  deps.dependencies.record(key, touched);
  const secret = toExisting(await deps.kube.getSecret(namespace, cert.spec.secretName));

  // Decide at the time the observation ended: talking to Service Manager can take seconds (retries,
  // Retry-After), and a certificate issued meanwhile must not look not-yet-valid.
  const observedAt = deps.clock.now();
  const observed: Observed = { certificate: cert, source, secret, keystorePassword, now: observedAt };
  let plan = decide(observed);

  // The token check: new credentials always (a Service Manager candidate before it becomes
  // current), the others when due.
  let check: { fingerprint: string; result: TokenCheckResult } | undefined;
  const candidate = obtained?.ok === true && obtained.candidate;
  if (plan.credentials !== undefined && tokenCheckEnabled(cert)) {
    const due =
      candidate ||
      tokenCheckDue(cert, plan.credentials.fingerprint, observedAt) !== undefined ||
      (await tokenSecretMissing(cert, deps.kube));
    if (due) {
      const result = await runTokenCheck(cert, plan.credentials, deps.kube, deps.tokens);
      check = { fingerprint: plan.credentials.fingerprint, result };
    }
  } else if (!tokenCheckEnabled(cert)) {
    await deps.tokens.forget(key);
  }
  if (obtained?.ok && obtained.candidate && check !== undefined && !check.result.ok) {
    const held = await holdBackRotation(obtained, check.result, deps.sm);
    if (held !== undefined) {
      obtained = held;
      plan = decide({ ...observed, source: smObservation(held) });
      check = undefined;
    }
  }
  const sm = obtained?.sm;
  if (obtained !== undefined) {
    const settled = settleIssuance(cert, obtained, plan, observedAt);
    plan = settled.plan;
    if (settled.deleteNow !== undefined && sm !== undefined) await sm.deleteBinding(settled.deleteNow);
    const retired = plan.status.retiredBindings ?? [];
    if (sm !== undefined && retired.length > 0) {
      const log = deps.logger.child({ certificate: key });
      plan = {
        ...plan,
        status: {
          ...plan.status,
          retiredBindings: await deleteDueRetired(sm, retired, observedAt, log, () =>
            deps.failpoints.hit('before-retired-deleted'),
          ),
        },
      };
    }
  }
  const token = applyTokenCheck(plan, cert, observedAt, check);
  plan = token.plan;
  if (access?.exists && access.terminating) {
    const ref = cert.spec.source.serviceManager?.credentialsSecretRef?.name ?? '';
    const status = withAccessTerminating(plan.status, cert.metadata.generation, ref, access.held, observedAt);
    plan = { ...plan, status };
  }
  await act(cert, plan, deps);
  if (token.tokenSecret !== undefined) {
    await writeTokenSecret(cert, token.tokenSecret, deps.kube, deps.events);
  }
  if (obtained?.ok && sm !== undefined && plan.status.binding?.id === obtained.binding.id) {
    // Orphans: after each rotation, at the first reconcile of this process, and every few hours.
    const last = deps.sm.sweptAt.get(cert.metadata.uid);
    if (obtained.candidate || last === undefined || now.getTime() - last >= ORPHAN_SWEEP_INTERVAL_MS) {
      deps.sm.sweptAt.set(cert.metadata.uid, now.getTime());
      const n = await sweepOrphans(cert, plan.status, sm, observedAt);
      if (n > 0) deps.logger.info({ certificate: key, orphans: n }, 'orphaned bindings deleted');
    }
  }

  if (plan.requeueAt === undefined) return awaitChange();
  return requeue(Math.max(1000, plan.requeueAt.getTime() - deps.clock.nowMs()));
}

const smObservation = (o: Extract<Obtained, { ok: true }>): SourceObservation => ({
  ok: true,
  description: o.description,
  revision: `${o.binding.id}@r${o.binding.revision}`,
  credentials: o.credentials,
  renewal: { kind: 'service-manager' },
});

/**
 * A rotation whose new credentials failed the check: what was obtained becomes the current
 * binding again, with the failure as the renewal's (Secret and status.binding stay; the rotation is
 * retried with backoff). A candidate refused outright is deleted (it was never handed out); one that
 * met a passing trouble is adopted and checked again by the next attempt. Undefined for a first
 * binding, which has nothing to fall back to.
 */
async function holdBackRotation(
  obtained: Extract<Obtained, { ok: true }>,
  failure: Extract<TokenCheckResult, { ok: false }>,
  sm: SmDeps,
): Promise<Extract<Obtained, { ok: true }> | undefined> {
  const kept = obtained.replaces;
  if (kept === undefined) return undefined;
  const refused = obtained.binding;
  if (isDefinitiveTokenFailure(failure.reason)) {
    await obtained.sm.deleteBinding(refused.id);
    sm.credentialCache.delete(refused.id);
  }
  return {
    ok: true,
    description: obtained.description,
    credentials: kept.credentials,
    binding: kept.binding,
    candidate: false,
    sm: obtained.sm,
    renewalFailure: {
      reason: failure.reason,
      message: `the new binding ${refused.name} failed the token check, ${kept.binding.name} stays current: ${failure.message}`,
      stalls: false,
    },
  };
}

/** Drops what the controller keeps for a BTPCertificate that is gone: its dependencies, its token pool. */
export async function forgetCertificate(
  key: string,
  deps: Pick<ReconcileDeps, 'dependencies' | 'tokens'>,
): Promise<void> {
  deps.dependencies.forget(key);
  await deps.tokens.forget(key);
}

/** Holds the access Secret of a serviceManager source; undefined for the operator-wide default. */
async function holdAccess(cert: BTPCertificate, deps: ReconcileDeps): Promise<AccessHold | undefined> {
  const ref = heldAccessSecret(cert, deps.sm.defaultCredentials);
  return ref === undefined ? undefined : holdAccessSecret(deps.kube, ref);
}

/**
 * The finalizer: every binding of the BTPCertificate is deleted (unless Retain) and that is
 * recorded in status; then its access Secret is released if no other BTPCertificate still needs
 * it; then the BTPCertificate may go. Each step is idempotent and leaves its progress in the API
 * (status, finalizers), so a run that dies anywhere, or an operator restarted in the middle of a
 * namespace's teardown, takes it up where it was. A BTPCertificate that cannot delete its
 * bindings keeps its finalizer and says why in status, not in an Event: a namespace being deleted
 * takes no new Events.
 */
async function finalize(cert: BTPCertificate, deps: ReconcileDeps): Promise<void> {
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
  deps.sm.clientByCertificate.delete(cert.metadata.uid);
  deps.sm.sweptAt.delete(cert.metadata.uid);
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
      n = await deleteAllBindings(cert, sm);
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
  const resourceVersion = await deps.kube.patchCertificateStatusFields(
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
  await deps.kube.patchCertificateStatusFields(cert.metadata.namespace, cert.metadata.name, {
    observedGeneration,
    conditions,
  });
}

async function act(cert: BTPCertificate, plan: Plan, deps: ReconcileDeps): Promise<void> {
  const { namespace, name } = cert.metadata;
  const log = deps.logger.child({ certificate: `${namespace}/${name}` });
  const { events } = plan;
  const { conditions } = plan.status;
  const status =
    conditions === undefined
      ? plan.status
      : { ...plan.status, conditions: keepTransitionTimes(cert.status?.conditions, conditions) };
  if (plan.write !== undefined) {
    await deps.kube.applySecret(toSecretBody(cert, plan.write));
    log.info({ secret: cert.spec.secretName, fingerprint: status.sha256Fingerprint }, 'secret written');
    deps.failpoints.hit('after-secret-written');
  }
  if (plan.rotate !== undefined) {
    await deps.kube.annotate(
      {
        apiVersion: `${SERVICE_BINDING_GROUP}/${SERVICE_BINDING_VERSION}`,
        kind: 'ServiceBinding',
        namespace,
        name: plan.rotate.serviceBinding,
      },
      { [FORCE_ROTATE_ANNOTATION]: 'true' },
    );
    log.info({ serviceBinding: plan.rotate.serviceBinding }, 'rotation requested');
  }
  if (stableStringify(status) !== stableStringify(cert.status ?? {})) {
    await deps.kube.patchCertificateStatus(namespace, name, status);
  }
  const target = { namespace, name, uid: cert.metadata.uid };
  for (const ev of events) {
    // Event messages are written for people and carry no key material: log them too.
    log.info({ event: ev.reason, type: ev.type, detail: ev.message }, 'event');
    await deps.events.record(target, ev);
  }
}

async function observeSource(
  cert: BTPCertificate,
  deps: ReconcileDeps,
  touched: { kind: DependencyKind; object: string }[],
): Promise<SourceObservation> {
  const ns = cert.metadata.namespace;
  const src = cert.spec.source;
  if (src.serviceBinding !== undefined) {
    const sbName = src.serviceBinding.name;
    const description = `ServiceBinding/${sbName}`;
    touched.push({ kind: 'servicebinding', object: `${ns}/${sbName}` });
    const raw = await deps.caches.serviceBinding(ns, sbName);
    if (raw === 'api-missing') {
      return {
        ok: false,
        description,
        reason: 'ServiceBindingAPIMissing',
        message: 'the services.cloud.sap.com/v1 ServiceBinding API is not installed in this cluster',
      };
    }
    if (raw === undefined) {
      return {
        ok: false,
        description,
        reason: 'SourceNotFound',
        message: `ServiceBinding ${sbName} not found`,
      };
    }
    const sb = viewServiceBinding(raw);
    if (sb === undefined) {
      return {
        ok: false,
        description,
        reason: 'SourceNotReady',
        message: `ServiceBinding ${sbName} has no metadata`,
      };
    }
    touched.push({ kind: 'secret', object: `${ns}/${sb.secretName}` });
    const secret = await deps.kube.getSecret(ns, sb.secretName);
    if (secret === undefined) {
      return {
        ok: false,
        description,
        reason: 'SourceNotReady',
        message: `ServiceBinding ${sbName} has not written its Secret ${sb.secretName} yet (${sb.readyMessage})`,
      };
    }
    const fields = fieldsFromBindingSecret(sb, decodeSecretData(secret));
    if (!fields.ok) return { ...fields, description };
    const x509 = selectX509(fields.fields, `Secret ${sb.secretName} of ServiceBinding ${sbName}`);
    if (!x509.ok) return { ...x509, description };
    return {
      ok: true,
      description,
      revision: `${sb.bindingID || 'binding'}@${secret.metadata?.resourceVersion ?? ''}`,
      credentials: x509,
      renewal: {
        kind: 'service-binding',
        name: sbName,
        rotationEnabled: sb.rotationEnabled,
        rotationRequested: sb.rotationRequested,
        rotationBlocked: sb.rotationBlocked,
      },
    };
  }
  if (src.secret !== undefined) {
    const secretName = src.secret.name;
    const description = `Secret/${secretName}`;
    touched.push({ kind: 'secret', object: `${ns}/${secretName}` });
    const secret = await deps.kube.getSecret(ns, secretName);
    if (secret === undefined) {
      return { ok: false, description, reason: 'SourceNotFound', message: `Secret ${secretName} not found` };
    }
    const fields = fieldsFromSecret(decodeSecretData(secret), secretName, src.secret.key);
    if (!fields.ok) return { ...fields, description };
    const x509 = selectX509(
      fields.fields,
      `Secret ${secretName}${src.secret.key ? ` key ${src.secret.key}` : ''}`,
    );
    if (!x509.ok) return { ...x509, description };
    return {
      ok: true,
      description,
      revision: secret.metadata?.resourceVersion ?? '',
      credentials: x509,
      renewal: { kind: 'none' },
    };
  }
  return {
    ok: false,
    description: 'none',
    reason: 'InvalidCredentials',
    message: 'spec.source names no source',
  };
}

async function observePassword(
  cert: BTPCertificate,
  deps: ReconcileDeps,
  touched: { kind: DependencyKind; object: string }[],
): Promise<PasswordObservation | undefined> {
  const ref = cert.spec.additionalOutputFormats?.find((f) => f.type === 'PKCS12')?.passwordSecretRef;
  if (ref === undefined) return undefined;
  const ns = cert.metadata.namespace;
  touched.push({ kind: 'secret', object: `${ns}/${ref.name}` });
  const secret = await deps.kube.getSecret(ns, ref.name);
  const password = secret === undefined ? undefined : decodeSecretData(secret)[ref.key];
  if (password === undefined) {
    return {
      ok: false,
      message:
        secret === undefined ? `Secret ${ref.name} not found` : `Secret ${ref.name} has no key ${ref.key}`,
    };
  }
  return { ok: true, password };
}

function toExisting(secret: V1Secret | undefined): ExistingSecret | undefined {
  if (secret === undefined) return undefined;
  const data = decodeSecretData(secret, [KEYSTORE_KEY]);
  const controller = secret.metadata?.ownerReferences?.find((r) => r.controller === true);
  return {
    type: secret.type,
    labels: secret.metadata?.labels ?? {},
    annotations: secret.metadata?.annotations ?? {},
    data,
    controllerUid: controller?.uid,
    resourceVersion: secret.metadata?.resourceVersion ?? '',
  };
}

function toSecretBody(cert: BTPCertificate, write: NonNullable<Plan['write']>): V1Secret {
  const desired = write.secret;
  const data = base64Data(desired.data);
  const annotations: Record<string, string> = { ...desired.annotations };
  if (write.keystore !== undefined) {
    const b64 = write.keystore.toString('base64');
    data[KEYSTORE_KEY] = b64;
    annotations[KEYSTORE_HASH_ANNOTATION] = sha256(b64);
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: desired.name,
      namespace: cert.metadata.namespace,
      labels: { ...desired.labels },
      annotations,
      ownerReferences: [controllerReference(cert)],
    },
    type: 'kubernetes.io/tls',
    data,
  };
}
