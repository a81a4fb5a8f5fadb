// The serviceManager source: obtains the credentials by creating (or finding) the BTP binding
// itself. The decisions are in ./bindings.ts; this is the shell that talks to Service Manager.
import { isReason, type Reason } from '../api/conditions.ts';
import type { BTPCertificate } from '../api/types.ts';
import {
  flattenFields,
  type SourceFailure,
  selectX509,
  type X509Credentials,
} from '../sources/credentials.ts';
import type { ServiceManagerFactory, ServiceManagerPort, SmBinding } from '../sources/service-manager.ts';
import { smAccessFromSecret } from '../sources/service-manager-access.ts';
import {
  type BindingRef,
  bindingLabels,
  bindingName,
  bindingParameters,
  jitteredRenewal,
  LABEL_REVISION,
  LABEL_UID,
  RENEW_ANNOTATION,
} from './bindings.ts';
import { renewalTime } from './renewal.ts';
import { isDefinitiveTokenFailure } from './token.ts';

export type SmDeps = {
  readonly getSecretData: (namespace: string, name: string) => Promise<Record<string, string> | undefined>;
  readonly serviceManager: ServiceManagerFactory;
  /** Closes a client that no BTPCertificate uses any more (its credential was replaced). */
  readonly releaseServiceManager: (port: ServiceManagerPort) => Promise<void>;
  /** namespace/name of the operator-wide default SM access Secret; undefined: not allowed. */
  readonly defaultCredentials: { readonly namespace: string; readonly name: string } | undefined;
  /** Credentials of bindings this process has seen, by binding ID (saves a GET per reconcile). */
  readonly credentialCache: Map<string, Readonly<Record<string, unknown>>>;
  /** The last Service Manager client each BTPCertificate used, by uid: the finalizer still has it
   * when the access Secret went first (a namespace being deleted). */
  readonly clientByCertificate: Map<string, ServiceManagerPort>;
  /** When each BTPCertificate (by uid) was last swept for orphaned bindings by this process. */
  readonly sweptAt: Map<string, number>;
};

export type Obtained =
  | {
      readonly ok: true;
      readonly description: string;
      readonly credentials: X509Credentials;
      readonly binding: BindingRef;
      /** A binding created (or found) for a new revision: it becomes current once its credentials pass. */
      readonly candidate: boolean;
      readonly sm: ServiceManagerPort;
      /** Why a renewal that is due did not happen (issuance failed); the current credentials are served. */
      readonly renewalFailure?: SmFailure;
      /** With a candidate: the binding it replaces and its credentials, kept if the candidate fails its check. */
      readonly replaces?: { readonly binding: BindingRef; readonly credentials: X509Credentials };
    }
  | (SourceFailure & {
      readonly description: string;
      readonly sm?: ServiceManagerPort;
      readonly failed?: SmFailure;
    });

export type SmFailure = { readonly reason: Reason; readonly message: string; readonly stalls: boolean };

/**
 * Is a new revision wanted now: first issuance, renewal due, a new renew-requested value, or
 * current credentials that the token endpoint refuses (revoked, or from a CA it does not trust).
 */
export function wantsNewRevision(
  cert: BTPCertificate,
  now: Date,
): 'initial' | 'renewal' | 'requested' | 'refused' | undefined {
  const st = cert.status;
  if (st?.binding === undefined) return 'initial';
  const requested = cert.metadata.annotations?.[RENEW_ANNOTATION];
  if (requested !== undefined && requested !== '' && requested !== st.lastRenewRequest) return 'requested';
  const token = st.conditions?.find((c) => c.type === 'TokenReady');
  if (
    token?.status === 'False' &&
    isDefinitiveTokenFailure(token.reason) &&
    st.token?.certificateFingerprint !== undefined &&
    st.token.certificateFingerprint === st.sha256Fingerprint
  ) {
    return 'refused';
  }
  if (st.notBefore === undefined || st.notAfter === undefined) return undefined;
  const notBefore = new Date(st.notBefore);
  const notAfter = new Date(st.notAfter);
  const renewAt = renewalTime(notBefore, notAfter, {
    ...(cert.spec.renewBefore !== undefined ? { renewBefore: cert.spec.renewBefore } : {}),
    ...(cert.spec.renewBeforePercentage !== undefined
      ? { renewBeforePercentage: cert.spec.renewBeforePercentage }
      : {}),
  });
  return now >= jitteredRenewal(renewAt, notBefore, notAfter, cert.metadata.uid) ? 'renewal' : undefined;
}

/** The client for a BTPCertificate's Service Manager access, for the finalizer; undefined if none can be had. */
export async function clientFor(cert: BTPCertificate, deps: SmDeps): Promise<ServiceManagerPort | undefined> {
  const spec = cert.spec.source.serviceManager;
  const ref = spec?.credentialsSecretRef
    ? { namespace: cert.metadata.namespace, name: spec.credentialsSecretRef.name }
    : deps.defaultCredentials;
  const data = ref === undefined ? undefined : await deps.getSecretData(ref.namespace, ref.name);
  const access = data === undefined || ref === undefined ? undefined : smAccessFromSecret(data, ref.name);
  if (access?.ok) return deps.serviceManager(access.access);
  return deps.clientByCertificate.get(cert.metadata.uid);
}

export async function obtainFromServiceManager(
  cert: BTPCertificate,
  deps: SmDeps,
  now: Date,
): Promise<Obtained> {
  const spec = cert.spec.source.serviceManager;
  const ns = cert.metadata.namespace;
  const description = `ServiceManager/${spec?.serviceInstanceName ?? spec?.serviceInstanceID ?? '?'}`;
  if (spec === undefined)
    return { ok: false, description, reason: 'InvalidCredentials', message: 'no serviceManager source' };

  // Access: the CR's own Secret, or the operator's default where it is configured.
  const ref = spec.credentialsSecretRef
    ? { namespace: ns, name: spec.credentialsSecretRef.name }
    : deps.defaultCredentials;
  if (ref === undefined) {
    return {
      ok: false,
      description,
      reason: 'SMCredentialsNotAllowed',
      message:
        'source.serviceManager.credentialsSecretRef is not set and the operator has no default Service Manager credentials',
    };
  }
  const data = await deps.getSecretData(ref.namespace, ref.name);
  if (data === undefined) {
    return {
      ok: false,
      description,
      reason: 'SourceNotFound',
      message: `Service Manager access Secret ${ref.name} not found`,
    };
  }
  const access = smAccessFromSecret(data, ref.name);
  if (!access.ok) return { ...access, description };
  const sm = deps.serviceManager(access.access);
  const previous = deps.clientByCertificate.get(cert.metadata.uid);
  deps.clientByCertificate.set(cert.metadata.uid, sm);
  if (
    previous !== undefined &&
    previous !== sm &&
    ![...deps.clientByCertificate.values()].includes(previous)
  ) {
    // The access credential was replaced: its pools and token go with it.
    await deps.releaseServiceManager(previous);
  }

  const current = cert.status?.binding;
  const want = wantsNewRevision(cert, now);
  // A failure backoff holds until nextRetryTime, unless the spec changed since (then: at once).
  const specChanged = cert.status?.observedGeneration !== cert.metadata.generation;
  const backingOff =
    !specChanged && cert.status?.nextRetryTime !== undefined && new Date(cert.status.nextRetryTime) > now;

  try {
    if (current !== undefined && (want === undefined || backingOff)) {
      const served = await currentCredentials(sm, current, deps);
      if (served !== undefined) {
        const x509 = selectX509(served, `binding ${current.name}`);
        if (!x509.ok) return { ...x509, description, sm };
        return { ok: true, description, credentials: x509, binding: current, candidate: false, sm };
      }
      // The binding was deleted behind our back: issue the next revision right away.
    }
    if (backingOff && current === undefined) {
      // Keep reporting the failure that started the backoff; the next attempt is at nextRetryTime.
      const last = cert.status?.conditions?.find((c) => c.type === 'Ready');
      const reason = last !== undefined && isReason(last.reason) ? last.reason : 'ServiceManagerError';
      return { ok: false, description, sm, reason, message: last?.message ?? 'retrying after a failure' };
    }
    const revision = (current?.revision ?? 0) + 1;
    const binding = await findOrCreate(cert, sm, revision);
    deps.credentialCache.set(binding.id, binding.credentials);
    const ref2: BindingRef = { id: binding.id, name: binding.name, revision };
    const x509 = selectX509(flattenFields({ ...binding.credentials }), `binding ${binding.name}`);
    if (!x509.ok) {
      // A client-secret binding is useless here: delete it at once, and say how to ask for x509.
      await sm.deleteBinding(binding.id);
      deps.credentialCache.delete(binding.id);
      return {
        ...x509,
        description,
        sm,
        failed: { reason: x509.reason, message: x509.message, stalls: true },
      };
    }
    const replaces = current === undefined ? undefined : await servedOrUndefined(sm, current, deps);
    return {
      ok: true,
      description,
      credentials: x509,
      binding: ref2,
      candidate: true,
      sm,
      ...(replaces === undefined ? {} : { replaces }),
    };
  } catch (e) {
    const failure = smFailure(e);
    if (current !== undefined) {
      // Renewal failed; keep serving the current credentials if they can be had.
      const served = deps.credentialCache.get(current.id);
      const x509 =
        served === undefined
          ? undefined
          : selectX509(flattenFields({ ...served }), `binding ${current.name}`);
      if (x509?.ok) {
        return {
          ok: true,
          description,
          credentials: x509,
          binding: current,
          candidate: false,
          sm,
          renewalFailure: failure,
        };
      }
    }
    return { ok: false, description, sm, reason: failure.reason, message: failure.message, failed: failure };
  }
}

/** The current binding's x509 credentials, or undefined when they cannot be had (gone, SM down). */
async function servedOrUndefined(
  sm: ServiceManagerPort,
  current: BindingRef,
  deps: SmDeps,
): Promise<{ binding: BindingRef; credentials: X509Credentials } | undefined> {
  try {
    const served = await currentCredentials(sm, current, deps);
    const x509 = served === undefined ? undefined : selectX509(served, `binding ${current.name}`);
    return x509?.ok ? { binding: current, credentials: x509 } : undefined;
  } catch {
    return undefined;
  }
}

async function currentCredentials(
  sm: ServiceManagerPort,
  current: BindingRef,
  deps: SmDeps,
): Promise<Record<string, string> | undefined> {
  let creds = deps.credentialCache.get(current.id);
  if (creds === undefined) {
    const binding = await sm.getBinding(current.id);
    if (binding === undefined) return undefined;
    creds = binding.credentials;
    deps.credentialCache.set(current.id, creds);
  }
  return flattenFields({ ...creds });
}

async function findOrCreate(
  cert: BTPCertificate,
  sm: ServiceManagerPort,
  revision: number,
): Promise<SmBinding> {
  const spec = cert.spec.source.serviceManager;
  if (spec === undefined) throw new Error('no serviceManager source');
  let instanceId = spec.serviceInstanceID;
  if (instanceId === undefined && spec.serviceInstanceName !== undefined) {
    instanceId = await sm.findInstanceId(spec.serviceInstanceName);
    if (instanceId === undefined) throw new InstanceNotFound(spec.serviceInstanceName);
  }
  if (instanceId === undefined) throw new InstanceNotFound('(none)');
  // Bindings of this revision exist when a previous run created them and died before recording
  // them (adopt a ready one), or when a create got stuck in BTP (leave it to the orphan sweep and
  // create another under a new name).
  const sameRevision = (await sm.listBindingsByLabel(LABEL_UID, cert.metadata.uid)).filter(
    (b) => b.instanceId === instanceId && b.labels[LABEL_REVISION]?.includes(String(revision)),
  );
  const ready = sameRevision.find((b) => b.ready);
  if (ready !== undefined) {
    const full = await sm.getBinding(ready.id);
    if (full !== undefined) return full;
  }
  // A name can also be held by a creation that lists nowhere yet (409): then take the next one.
  const taken = new Set(sameRevision.map((b) => b.name));
  const base = bindingName(cert.metadata.uid, revision);
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (taken.has(name)) continue;
    try {
      return await sm.createBinding({
        name,
        instanceId,
        parameters: bindingParameters(spec),
        labels: bindingLabels(cert, revision),
      });
    } catch (e) {
      if (n >= MAX_NAME_ATTEMPTS || (e as { code?: unknown }).code !== 'BtpConflict') throw e;
      taken.add(name);
    }
  }
}

/** Names tried for one revision before giving up (each stuck creation holds one). */
const MAX_NAME_ATTEMPTS = 5;

class InstanceNotFound extends Error {
  readonly code = 'InstanceNotFound';
  constructor(name: string) {
    super(`service instance ${name} not found`);
  }
}

/** Maps a client error to a reason by its stable code, never by its text. */
export function smFailure(e: unknown): SmFailure {
  const code =
    typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  const message = e instanceof Error ? e.message : 'unknown error';
  switch (code) {
    case 'InstanceNotFound':
      return { reason: 'ServiceInstanceNotFound', message, stalls: true };
    case 'BtpBadRequest':
      return { reason: 'InvalidParameters', message, stalls: true };
    case 'BtpUnauthorized':
    case 'BtpInvalidClientCredential':
    case 'BtpForbidden':
    case 'BtpUnsupportedCredential':
    case 'BtpTLSHandshakeFailed':
      return { reason: 'SMAuthenticationFailed', message, stalls: true };
    default:
      return { reason: 'ServiceManagerError', message, stalls: false };
  }
}
