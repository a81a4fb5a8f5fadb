// The Service Manager access Secret is kept for as long as cleanup needs it: a BTPCertificate
// that may have bindings in BTP holds its access Secret with the finalizer btpcerts.io/in-use, and
// the last one to have deleted its bindings releases it. Deleting a namespace deletes the access
// Secret and the BTPCertificates at once; without this, the finalizers would find no credentials
// and every binding would be left in BTP. Pure decisions only; the shell is in finalizer.ts and
// service-manager-reconcile.ts, Ready's AccessSecretTerminating in policies/ready.ts. The state is
// the API's (finalizers and status), never memory, so an operator restarted in the middle of a
// teardown takes it up where it was.
import type { Reason } from '../api/conditions.ts';
import type { BTPCertificate, BTPCertificateStatus } from '../api/types.ts';
import { BINDINGS_FINALIZER } from './bindings.ts';

export const IN_USE_FINALIZER = 'btpcerts.io/in-use';
/** The label a held Secret carries too, so that the held Secrets of a namespace can be listed. */
export const IN_USE_LABEL = 'btpcerts.io/in-use';

/** The Ready reason that marks a BTPCertificate being deleted whose bindings are all deleted. */
export const CLEANED_UP_REASON = 'BindingsDeleted' satisfies Reason;

export type SecretRef = { readonly namespace: string; readonly name: string };

/** What holding an access Secret found. */
export type AccessHold =
  | { readonly exists: false }
  | { readonly exists: true; readonly terminating: boolean; readonly held: boolean };

/**
 * The access Secret this BTPCertificate holds with IN_USE_FINALIZER: the one its
 * credentialsSecretRef names. Never the operator-wide default (--default-sm-credentials): that
 * one belongs to the operator's administrator, and no tenant may keep it from being deleted (or
 * the operator's namespace from going away with it).
 */
export function heldAccessSecret(
  cert: BTPCertificate,
  defaultCredentials: SecretRef | undefined,
): SecretRef | undefined {
  const name = cert.spec.source.serviceManager?.credentialsSecretRef?.name;
  if (name === undefined) return undefined;
  const ref = { namespace: cert.metadata.namespace, name };
  if (defaultCredentials !== undefined && sameRef(ref, defaultCredentials)) return undefined;
  return ref;
}

const sameRef = (a: SecretRef, b: SecretRef) => a.namespace === b.namespace && a.name === b.name;

/** The bindings status still records: current and retired. */
export function recordedBindings(status: BTPCertificateStatus | undefined): string[] {
  return [
    ...(status?.binding ? [status.binding.name] : []),
    ...(status?.retiredBindings ?? []).map((r) => r.name),
  ];
}

/** Being deleted, and every binding of it is deleted (recorded in status before it lets go of its access). */
export function cleanedUp(cert: BTPCertificate): boolean {
  if (cert.metadata.deletionTimestamp === undefined) return false;
  const ready = cert.status?.conditions?.find((c) => c.type === 'Ready');
  return ready?.reason === CLEANED_UP_REASON && recordedBindings(cert.status).length === 0;
}

/**
 * Does this BTPCertificate still need its access Secret for cleanup? Yes while it carries the
 * bindings finalizer (it has, or may get, bindings: one created by a run that died before
 * recording it is found by its label), unless it is being deleted and either keeps its bindings
 * (Retain) or has deleted them all.
 */
export function needsAccess(cert: BTPCertificate): boolean {
  if (!(cert.metadata.finalizers ?? []).includes(BINDINGS_FINALIZER)) return false;
  if (cert.metadata.deletionTimestamp === undefined) return true;
  return cert.spec.deletionPolicy !== 'Retain' && !cleanedUp(cert);
}

/**
 * Does any of `certs` hold `secret` and still need it? `certs` must be a consistent read (a list
 * from the API server, not a cache): two certificates finishing together then cannot both see the
 * other as still needing it, since each records its own cleanup in status before it looks.
 */
export function stillNeeded(
  secret: SecretRef,
  certs: readonly BTPCertificate[],
  defaultCredentials: SecretRef | undefined,
): boolean {
  return certs.some((c) => {
    const held = heldAccessSecret(c, defaultCredentials);
    return held !== undefined && sameRef(held, secret) && needsAccess(c);
  });
}

/** May `self`, whose cleanup is done, release `secret`? Only when no other certificate still needs it. */
export function mayRelease(
  self: BTPCertificate,
  secret: SecretRef,
  certs: readonly BTPCertificate[],
  defaultCredentials: SecretRef | undefined,
): boolean {
  const others = certs.filter((c) => c.metadata.uid !== self.metadata.uid);
  return !stillNeeded(secret, others, defaultCredentials);
}
