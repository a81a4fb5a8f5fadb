// The serviceManager source's I/O outside the issuance step: the finalizers (on the
// BTPCertificate and on its access Secret), deleting every binding when the BTPCertificate is
// deleted, and the orphan sweep. The decisions are in ./access-in-use.ts and ./policies/.
import { parseBTPCertificate } from '../api/parse.ts';
import type { BTPCertificate, BTPCertificateStatus } from '../api/types.ts';
import type { KubeApi } from '../kube/api.ts';
import { KubeApiError } from '../kube/errors.ts';
import type { ServiceManagerPort } from '../sources/service-manager.ts';
import {
  type AccessHold,
  IN_USE_FINALIZER,
  IN_USE_LABEL,
  type SecretRef,
  stillNeeded,
} from './access-in-use.ts';
import { BINDINGS_FINALIZER, bindingMismatch, LABEL_UID, rotatedBindingTtlMs } from './bindings.ts';
import type { ServiceManagerSessions } from './service-manager-sessions.ts';

/**
 * Deletes every binding of this BTPCertificate (current, retired, any labelled with its uid); one
 * whose labels do not name it is left alone. Returns the number deleted.
 */
export async function deleteAllBindings(
  cert: BTPCertificate,
  sm: ServiceManagerPort,
  sessions: ServiceManagerSessions,
): Promise<number> {
  const uid = cert.metadata.uid;
  const ids = new Set<string>();
  if (cert.status?.binding) ids.add(cert.status.binding.id);
  for (const r of cert.status?.retiredBindings ?? []) ids.add(r.id);
  for (const b of await sm.listBindingsByLabel(LABEL_UID, uid)) ids.add(b.id);
  let deleted = 0;
  for (const id of ids) if ((await sessions.deleteBinding(sm, uid, id)) === 'deleted') deleted += 1;
  return deleted;
}

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
  // The label query is the Service Manager's to answer: what it lists is checked again here.
  const uid = cert.metadata.uid;
  const orphans = (await sm.listBindingsByLabel(LABEL_UID, uid)).filter(
    (b) =>
      bindingMismatch(b, { uid }) === undefined &&
      !keep.has(b.id) &&
      (b.createdAt === undefined || Date.parse(b.createdAt) <= cutoff),
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
