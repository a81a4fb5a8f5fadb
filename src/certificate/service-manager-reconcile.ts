// The serviceManager source's part of a reconcile around decide(): record a new binding once its
// credentials were validated and written, retire the previous one, delete retired bindings when
// their time has come, back off after failures, and remove every binding when the BTPCertificate
// is deleted (the finalizer).
import type { Logger } from 'pino';
import { parseBTPCertificate } from '../api/parse.ts';
import { earliest, iso } from '../api/time.ts';
import type { BTPCertificate, BTPCertificateStatus } from '../api/types.ts';
import type { KubeApi } from '../kube/api.ts';
import { KubeApiError } from '../kube/errors.ts';
import type { ServiceManagerPort } from '../sources/service-manager.ts';
import { IN_USE_FINALIZER, IN_USE_LABEL, type SecretRef, stillNeeded } from './access-in-use.ts';
import {
  BINDINGS_FINALIZER,
  LABEL_UID,
  nextRetryTime,
  RENEW_ANNOTATION,
  type RetiredBinding,
  rotatedBindingTtlMs,
} from './bindings.ts';
import { byConditionOrder, type DesiredCondition, setCondition } from './conditions.ts';
import type { EventSpec, Plan } from './decide.ts';
import type { Obtained, SmFailure } from './service-manager-source.ts';

export type Settled = {
  readonly plan: Plan;
  /** A binding to delete before the status is written: a candidate whose credentials failed. */
  readonly deleteNow: string | undefined;
};

/** Adjusts the plan decide() made for what issuance obtained. Pure. */
export function settleIssuance(cert: BTPCertificate, obtained: Obtained, plan: Plan, now: Date): Settled {
  const previous = cert.status ?? {};
  const generation = cert.metadata.generation;
  let status: BTPCertificateStatus = plan.status;
  const events: EventSpec[] = [...plan.events];
  let requeueAt = plan.requeueAt;
  let deleteNow: string | undefined;
  const ready = plan.status.conditions?.find((c) => c.type === 'Ready');

  let failedNow = false;
  const fail = (failure: SmFailure | undefined, renewalOnly: boolean) => {
    failedNow = true;
    const attempts = (previous.failedAttempts ?? 0) + 1;
    const retryAt = nextRetryTime(now, attempts, cert.metadata.uid);
    status = { ...status, failedAttempts: attempts, lastFailureTime: iso(now), nextRetryTime: iso(retryAt) };
    if (renewalOnly && failure !== undefined) {
      const c: DesiredCondition = {
        type: 'Renewal',
        status: 'False',
        reason: failure.reason,
        message: `renewal failed: ${failure.message}; retried with backoff (status.nextRetryTime)`,
      };
      status = { ...status, conditions: setCondition(status.conditions ?? [], c, now, generation) };
      events.push({ type: 'Warning', reason: failure.reason, message: `renewal failed: ${failure.message}` });
    }
    // Stalled failures wait for a change; the others are retried at nextRetryTime.
    if (!(failure?.stalls ?? false)) requeueAt = earliest(requeueAt, retryAt);
  };

  if (obtained.ok && obtained.candidate) {
    if (ready?.status === 'True') {
      const old = previous.binding;
      const retired: RetiredBinding[] = [...(previous.retiredBindings ?? [])];
      if (old !== undefined && old.id !== obtained.binding.id) {
        retired.push({ ...old, deleteAfter: iso(new Date(now.getTime() + rotatedBindingTtlMs(cert))) });
      }
      const renewRequest = cert.metadata.annotations?.[RENEW_ANNOTATION];
      const { failedAttempts: _a, lastFailureTime: _l, nextRetryTime: _n, ...rest } = status;
      status = {
        ...rest,
        binding: obtained.binding,
        retiredBindings: retired,
        ...(renewRequest ? { lastRenewRequest: renewRequest } : {}),
      };
      if (old !== undefined) {
        events.push({
          type: 'Normal',
          reason: 'Rotated',
          message: `binding ${obtained.binding.name} is current; ${old.name} is retired until ${retired.at(-1)?.deleteAfter}`,
        });
      }
    } else {
      // New credentials that failed validation never become current.
      deleteNow = obtained.binding.id;
      fail(undefined, false);
    }
  } else if (obtained.ok && obtained.renewalFailure !== undefined) {
    fail(obtained.renewalFailure, true);
  } else if (!obtained.ok && obtained.failed !== undefined) {
    fail(obtained.failed, false);
  }

  // While a failed renewal backs off, Renewal keeps saying why (decide() only sees that the
  // current credentials are fine and would call the renewal not due).
  const failedBefore = previous.conditions?.find((c) => c.type === 'Renewal');
  if (
    !failedNow &&
    !(obtained.ok && obtained.candidate) &&
    (status.failedAttempts ?? 0) > 0 &&
    status.nextRetryTime !== undefined &&
    new Date(status.nextRetryTime) > now &&
    failedBefore?.status === 'False' &&
    failedBefore.reason !== 'NotDue'
  ) {
    status = {
      ...status,
      conditions: [...(status.conditions ?? []).filter((c) => c.type !== 'Renewal'), failedBefore].sort(
        byConditionOrder,
      ),
    };
  }

  // A backoff in force always brings the next attempt back, whatever woke this reconcile: the
  // queue keeps only the latest run's schedule.
  if (status.nextRetryTime !== undefined && new Date(status.nextRetryTime) > now) {
    requeueAt = earliest(requeueAt, new Date(status.nextRetryTime));
  }
  const retired = status.retiredBindings ?? [];
  for (const r of retired) requeueAt = earliest(requeueAt, new Date(r.deleteAfter));
  return { plan: { ...plan, status, events, requeueAt }, deleteNow };
}

/** Deletes the retired bindings whose time has come; returns the list that remains. */
export async function deleteDueRetired(
  sm: ServiceManagerPort,
  retired: readonly RetiredBinding[],
  now: Date,
  log: Logger,
  beforeDelete: () => void = () => {},
): Promise<RetiredBinding[]> {
  const remaining: RetiredBinding[] = [];
  for (const r of retired) {
    if (new Date(r.deleteAfter) > now) {
      remaining.push(r);
      continue;
    }
    try {
      beforeDelete();
      await sm.deleteBinding(r.id);
      log.info({ binding: r.name }, 'retired binding deleted');
    } catch (e) {
      log.warn({ binding: r.name, err: e }, 'retired binding not deleted yet');
      remaining.push(r);
    }
  }
  return remaining;
}

/** Deletes every binding of this BTPCertificate (current, retired, any labelled with its uid). */
export async function deleteAllBindings(cert: BTPCertificate, sm: ServiceManagerPort): Promise<number> {
  const ids = new Set<string>();
  if (cert.status?.binding) ids.add(cert.status.binding.id);
  for (const r of cert.status?.retiredBindings ?? []) ids.add(r.id);
  for (const b of await sm.listBindingsByLabel(LABEL_UID, cert.metadata.uid)) ids.add(b.id);
  for (const id of ids) await sm.deleteBinding(id);
  return ids.size;
}

/** How often each BTPCertificate's bindings are swept for orphans (besides after each rotation). */
export const ORPHAN_SWEEP_INTERVAL_MS = 6 * 60 * 60_000;

/**
 * Deletes bindings labelled with this BTPCertificate's uid that it no longer references, once
 * they are older than its rotatedBindingTTL (a binding may have been handed out by a run that died
 * before recording it).
 */
export async function sweepOrphans(
  cert: BTPCertificate,
  status: BTPCertificateStatus,
  sm: ServiceManagerPort,
  now: Date,
): Promise<number> {
  const keep = new Set([status.binding?.id, ...(status.retiredBindings ?? []).map((r) => r.id)]);
  const cutoff = now.getTime() - rotatedBindingTtlMs(cert);
  const orphans = (await sm.listBindingsByLabel(LABEL_UID, cert.metadata.uid)).filter(
    (b) => !keep.has(b.id) && (b.createdAt === undefined || Date.parse(b.createdAt) <= cutoff),
  );
  let deleted = 0;
  for (const b of orphans) {
    try {
      await sm.deleteBinding(b.id);
      deleted += 1;
    } catch {
      // E.g. 422 while a stuck creation is still in progress: the next sweep tries again.
    }
  }
  return deleted;
}

/**
 * Puts the bindings finalizer on the BTPCertificate. Idempotent: one that carries it is left alone.
 * Fails with 409 when the object changed since it was read (the queue retries with a fresh read).
 */
export async function ensureFinalizer(cert: BTPCertificate, kube: KubeApi): Promise<void> {
  const finalizers = cert.metadata.finalizers ?? [];
  if (finalizers.includes(BINDINGS_FINALIZER)) return;
  await kube.setCertificateFinalizers(
    cert.metadata.namespace,
    cert.metadata.name,
    [...finalizers, BINDINGS_FINALIZER],
    cert.metadata.resourceVersion,
  );
}

/**
 * Takes the bindings finalizer off the BTPCertificate. Idempotent: one without it, or one that is
 * gone already (a rerun on a cache that has not seen it go), is fine. Fails with 409 when the
 * object changed since it was read.
 */
export async function removeFinalizer(cert: BTPCertificate, kube: KubeApi): Promise<void> {
  const finalizers = cert.metadata.finalizers ?? [];
  if (!finalizers.includes(BINDINGS_FINALIZER)) return;
  try {
    await kube.setCertificateFinalizers(
      cert.metadata.namespace,
      cert.metadata.name,
      finalizers.filter((f) => f !== BINDINGS_FINALIZER),
      cert.metadata.resourceVersion,
    );
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/** What holding an access Secret found. */
export type AccessHold =
  | { readonly exists: false }
  | { readonly exists: true; readonly terminating: boolean; readonly held: boolean };

/** How often a finalizer write that met a concurrent change of the Secret is tried again at once. */
const FINALIZER_WRITE_ATTEMPTS = 5;

/**
 * Holds the access Secret with IN_USE_FINALIZER, before any binding is created through it.
 * Idempotent: a Secret that carries it already is left alone. One that does not exist is reported
 * so; one being deleted cannot take a new finalizer (the API refuses it) and is reported with
 * whether it is held. A write that meets a concurrent change (another BTPCertificate holding it at
 * the same moment) reads the Secret again.
 */
export async function holdAccessSecret(kube: KubeApi, ref: SecretRef): Promise<AccessHold> {
  for (let attempt = 1; ; attempt++) {
    const secret = await kube.getSecret(ref.namespace, ref.name);
    if (secret?.metadata === undefined) return { exists: false };
    const finalizers = secret.metadata.finalizers ?? [];
    const held = finalizers.includes(IN_USE_FINALIZER);
    if (held || secret.metadata.deletionTimestamp !== undefined) {
      return { exists: true, terminating: secret.metadata.deletionTimestamp !== undefined, held };
    }
    try {
      await kube.setSecretFinalizers(
        ref.namespace,
        ref.name,
        [...finalizers, IN_USE_FINALIZER],
        { [IN_USE_LABEL]: 'true' },
        secret.metadata.resourceVersion ?? '',
      );
      return { exists: true, terminating: false, held: true };
    } catch (e) {
      if (!isConflict(e) || attempt >= FINALIZER_WRITE_ATTEMPTS) throw e;
    }
  }
}

/**
 * Removes IN_USE_FINALIZER from the access Secret. Idempotent: a Secret that is gone or does not
 * carry it is fine. Returns whether it removed it. The caller decides whether it may (mayRelease).
 */
export async function releaseAccessSecret(kube: KubeApi, ref: SecretRef): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const secret = await kube.getSecret(ref.namespace, ref.name);
    const finalizers = secret?.metadata?.finalizers ?? [];
    if (!finalizers.includes(IN_USE_FINALIZER)) return false;
    try {
      await kube.setSecretFinalizers(
        ref.namespace,
        ref.name,
        finalizers.filter((f) => f !== IN_USE_FINALIZER),
        { [IN_USE_LABEL]: null },
        secret?.metadata?.resourceVersion ?? '',
      );
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      if (!isConflict(e) || attempt >= FINALIZER_WRITE_ATTEMPTS) throw e;
    }
  }
}

const isConflict = (e: unknown) => e instanceof KubeApiError && e.status === 409;
const isNotFound = (e: unknown) => e instanceof KubeApiError && e.status === 404;

/**
 * Releases the held access Secrets of a namespace that no BTPCertificate still needs: those its
 * certificates moved away from (another credentialsSecretRef). Idempotent; returns the names
 * released. The Secrets are listed before the certificates, so a certificate that held one before
 * the list is seen.
 */
export async function releaseUnneededAccessSecrets(
  kube: KubeApi,
  namespace: string,
  defaultCredentials: SecretRef | undefined,
): Promise<string[]> {
  const held = await kube.listSecretNames(namespace, `${IN_USE_LABEL}=true`);
  if (held.length === 0) return [];
  const certs = (await kube.listCertificates(namespace))
    .map(parseBTPCertificate)
    .filter((c) => c !== undefined);
  const released: string[] = [];
  for (const name of held) {
    const ref = { namespace, name };
    if (stillNeeded(ref, certs, defaultCredentials)) continue;
    if (await releaseAccessSecret(kube, ref)) released.push(name);
  }
  return released;
}
