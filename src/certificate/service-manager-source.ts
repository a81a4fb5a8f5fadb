// The serviceManager source's issuance step (gather): serve the current binding, or create (or
// find) the next one, with every failure as a value. The decisions are in ./bindings.ts and
// ./policies/issuance.ts; the process state in ./service-manager-sessions.ts.
import { isReason } from '../api/conditions.ts';
import type { BTPCertificate } from '../api/types.ts';
import { flattenFields, selectX509, type X509Credentials } from '../sources/credentials.ts';
import type { ServiceManagerPort, SmBinding } from '../sources/service-manager.ts';
import { type SmAccess, smAccessFromSecret } from '../sources/service-manager-access.ts';
import {
  type BindingRef,
  bindingLabels,
  bindingMismatch,
  bindingName,
  bindingParameters,
  LABEL_REVISION,
  LABEL_UID,
  RENEW_ANNOTATION,
} from './bindings.ts';
import { type DefaultCredentialsPolicy, defaultCredentialsRefusal } from './default-credentials-policy.ts';
import type { SourceObservation } from './plan.ts';
import { type Issuance, type SmFailure, servedSource } from './policies/issuance.ts';
import { renewalAt } from './renewal.ts';
import type { ServiceManagerSessions } from './service-manager-sessions.ts';
import { isDefinitiveTokenFailure } from './token.ts';

export type { SmFailure } from './policies/issuance.ts';

export type SmDeps = {
  readonly getSecretData: (namespace: string, name: string) => Promise<Record<string, string> | undefined>;
  /** namespace/name of the operator-wide default SM access Secret; undefined: not allowed. */
  readonly defaultCredentials: { readonly namespace: string; readonly name: string } | undefined;
  /** Who may use defaultCredentials, for which instances; undefined: nobody. */
  readonly defaultCredentialsPolicy: DefaultCredentialsPolicy | undefined;
  /** Live bindings (current, retired, left over) a BTPCertificate may have before it creates one. */
  readonly maxBindings: number;
  readonly sessions: ServiceManagerSessions;
};

/** What the issuance step gives gather: the source as decide sees it, what happened, and the client. */
export type SmOutcome = {
  readonly source: SourceObservation;
  readonly issuance: Issuance;
  readonly client: ServiceManagerPort | undefined;
};

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
  const renewAt = renewalAt(cert, new Date(st.notBefore), new Date(st.notAfter), true);
  return now >= renewAt ? 'renewal' : undefined;
}

type Access =
  | { readonly ok: true; readonly access: SmAccess }
  | { readonly ok: false; readonly reason: SourceFailureReason; readonly message: string };
type SourceFailureReason = Extract<SourceObservation, { ok: false }>['reason'];

const accessRef = (cert: BTPCertificate, deps: Pick<SmDeps, 'defaultCredentials'>) => {
  const spec = cert.spec.source.serviceManager;
  return spec?.credentialsSecretRef
    ? { namespace: cert.metadata.namespace, name: spec.credentialsSecretRef.name }
    : deps.defaultCredentials;
};

/** The access: the CR's own Secret, or the operator's default where it is configured. */
async function accessOf(cert: BTPCertificate, deps: SmDeps): Promise<Access> {
  const ref = accessRef(cert, deps);
  if (ref === undefined) {
    return {
      ok: false,
      reason: 'SMCredentialsNotAllowed',
      message:
        'source.serviceManager.credentialsSecretRef is not set and the operator has no default Service Manager credentials',
    };
  }
  if (cert.spec.source.serviceManager?.credentialsSecretRef === undefined) {
    // The operator's credentials: only where its policy allows, before anything is asked of BTP.
    const refusal = defaultCredentialsRefusal(deps.defaultCredentialsPolicy, cert);
    if (refusal !== undefined) return { ok: false, reason: 'DefaultCredentialsNotAllowed', message: refusal };
  }
  const data = await deps.getSecretData(ref.namespace, ref.name);
  if (data === undefined) {
    return {
      ok: false,
      reason: 'SourceNotFound',
      message: `Service Manager access Secret ${ref.name} not found`,
    };
  }
  return smAccessFromSecret(data, ref.name);
}

/** The client for a BTPCertificate's Service Manager access, for the finalizer; undefined if none can be had. */
export async function clientFor(cert: BTPCertificate, deps: SmDeps): Promise<ServiceManagerPort | undefined> {
  const ref = accessRef(cert, deps);
  const data = ref === undefined ? undefined : await deps.getSecretData(ref.namespace, ref.name);
  const access = data === undefined || ref === undefined ? undefined : smAccessFromSecret(data, ref.name);
  if (access?.ok) return deps.sessions.client(access.access);
  return deps.sessions.lastClient(cert.metadata.uid);
}

export async function issueFromServiceManager(
  cert: BTPCertificate,
  deps: SmDeps,
  now: Date,
): Promise<SmOutcome> {
  const spec = cert.spec.source.serviceManager;
  const description = `ServiceManager/${spec?.serviceInstanceName ?? spec?.serviceInstanceID ?? '?'}`;
  const failure = (reason: SourceFailureReason, message: string) =>
    ({ ok: false, description, reason, message }) as const;
  if (spec === undefined) {
    return {
      source: failure('InvalidCredentials', 'no serviceManager source'),
      issuance: { kind: 'no-access' },
      client: undefined,
    };
  }
  const access = await accessOf(cert, deps);
  if (!access.ok) {
    return {
      source: failure(access.reason, access.message),
      issuance: { kind: 'no-access' },
      client: undefined,
    };
  }
  const sm = await deps.sessions.use(
    `${cert.metadata.namespace}/${cert.metadata.name}`,
    cert.metadata.uid,
    access.access,
  );
  const step = await issue(
    cert,
    { sm, uid: cert.metadata.uid, sessions: deps.sessions, maxBindings: deps.maxBindings },
    now,
  );
  switch (step.kind) {
    case 'unusable':
      return { source: failure(step.reason, step.message), issuance: { kind: 'unusable' }, client: sm };
    case 'failed':
      return {
        source: failure(step.failure.reason, step.failure.message),
        issuance: { kind: 'failed', failure: step.failure },
        client: sm,
      };
    case 'current':
      return {
        source: servedSource(description, step.binding, step.credentials),
        issuance: { kind: 'current', binding: step.binding },
        client: sm,
      };
    case 'kept':
      return {
        source: servedSource(description, step.binding, step.credentials),
        issuance: { kind: 'kept', binding: step.binding, failure: step.failure },
        client: sm,
      };
    case 'candidate':
      return {
        source: servedSource(description, step.binding, step.credentials),
        issuance: { kind: 'candidate', binding: step.binding, replaces: step.replaces },
        client: sm,
      };
  }
}

type Served = { readonly binding: BindingRef; readonly credentials: X509Credentials };
type Step =
  | { readonly kind: 'unusable'; readonly reason: SourceFailureReason; readonly message: string }
  | { readonly kind: 'failed'; readonly failure: SmFailure }
  | ({ readonly kind: 'current' } & Served)
  | ({ readonly kind: 'kept'; readonly failure: SmFailure } & Served)
  | ({ readonly kind: 'candidate'; readonly replaces: Served | undefined } & Served);

/** A BTPCertificate's view of its Service Manager: the client, whose bindings it is, what is kept. */
type Session = {
  readonly sm: ServiceManagerPort;
  readonly uid: string;
  readonly sessions: ServiceManagerSessions;
  readonly maxBindings: number;
};

/** Serves the current binding, or issues the next one; never throws. */
async function issue(cert: BTPCertificate, session: Session, now: Date): Promise<Step> {
  const { sm, uid, sessions } = session;
  const current = cert.status?.binding;
  const want = wantsNewRevision(cert, now);
  // A failure backoff holds until nextRetryTime, unless the spec changed since (then: at once).
  const specChanged = cert.status?.observedGeneration !== cert.metadata.generation;
  const backingOff =
    !specChanged && cert.status?.nextRetryTime !== undefined && new Date(cert.status.nextRetryTime) > now;

  try {
    if (current !== undefined && (want === undefined || backingOff)) {
      const served = await currentCredentials(session, current);
      if (served !== undefined) {
        const x509 = selectX509(served, `binding ${current.name}`);
        if (!x509.ok) return { kind: 'unusable', reason: x509.reason, message: x509.message };
        return { kind: 'current', binding: current, credentials: x509 };
      }
      // The binding was deleted behind our back: issue the next revision right away, unless a
      // failed try backs off. Then the next one waits for nextRetryTime like any other: issuing
      // here counted a failure in status per run, and that write woke the next run.
      if (backingOff) return goneWhileBackingOff(cert, current);
    }
    if (backingOff && current === undefined) {
      // Keep reporting the failure that started the backoff; the next attempt is at nextRetryTime.
      const last = cert.status?.conditions?.find((c) => c.type === 'Ready');
      const reason = last !== undefined && isReason(last.reason) ? last.reason : 'ServiceManagerError';
      return { kind: 'unusable', reason, message: last?.message ?? 'retrying after a failure' };
    }
    const revision = (current?.revision ?? 0) + 1;
    const binding = await findOrCreate(cert, session, revision);
    sessions.remember(sm, uid, binding);
    const ref: BindingRef = { id: binding.id, name: binding.name, revision };
    const x509 = selectX509(flattenFields({ ...binding.credentials }), `binding ${binding.name}`);
    if (!x509.ok) {
      // A client-secret binding is useless here: delete it at once, and say how to ask for x509.
      await sessions.deleteBinding(sm, uid, binding.id);
      return { kind: 'failed', failure: { reason: x509.reason, message: x509.message, stalls: true } };
    }
    const replaces = current === undefined ? undefined : await servedOrUndefined(session, current);
    return { kind: 'candidate', binding: ref, credentials: x509, replaces };
  } catch (e) {
    const failure = smFailure(e);
    if (current !== undefined) {
      // Renewal failed; keep serving the current credentials if they can be had.
      const served = sessions.credentials(sm, uid, current.id);
      const x509 =
        served === undefined
          ? undefined
          : selectX509(flattenFields({ ...served }), `binding ${current.name}`);
      if (x509?.ok) return { kind: 'kept', binding: current, credentials: x509, failure };
    }
    return { kind: 'failed', failure };
  }
}

/**
 * The current binding is gone from Service Manager while a failed try backs off: nothing to serve
 * until nextRetryTime. Keeps the reason Ready gives already when it is a failure; the message names
 * no time, so the runs until then write nothing.
 */
function goneWhileBackingOff(cert: BTPCertificate, current: BindingRef): Step {
  const ready = cert.status?.conditions?.find((c) => c.type === 'Ready');
  const reason = ready?.status === 'False' && isReason(ready.reason) ? ready.reason : 'SourceNotFound';
  return {
    kind: 'unusable',
    reason,
    message: `binding ${current.name} is gone from Service Manager; renewal is backing off after a failed try, the next revision is requested at status.nextRetryTime`,
  };
}

/** The current binding's x509 credentials, or undefined when they cannot be had (gone, SM down). */
async function servedOrUndefined(session: Session, current: BindingRef): Promise<Served | undefined> {
  try {
    const served = await currentCredentials(session, current);
    const x509 = served === undefined ? undefined : selectX509(served, `binding ${current.name}`);
    return x509?.ok ? { binding: current, credentials: x509 } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The current binding's credentials: kept ones, or asked for. Undefined when it is gone; throws
 * BindingNotOwned when the Service Manager answers with a binding that is not this one.
 */
async function currentCredentials(
  { sm, uid, sessions }: Session,
  current: BindingRef,
): Promise<Record<string, string> | undefined> {
  let creds = sessions.credentials(sm, uid, current.id);
  if (creds === undefined) {
    const binding = await sm.getBinding(current.id);
    if (binding === undefined) return undefined;
    notOwnedUnless(binding, { uid, id: current.id, name: current.name });
    creds = binding.credentials;
    sessions.remember(sm, uid, binding);
  }
  return flattenFields({ ...creds });
}

/** Throws BindingNotOwned unless the binding is the one claimed. */
function notOwnedUnless(binding: SmBinding, claim: Parameters<typeof bindingMismatch>[1]): void {
  const mismatch = bindingMismatch(binding, claim);
  if (mismatch !== undefined) throw new BindingNotOwned(mismatch);
}

async function findOrCreate(
  cert: BTPCertificate,
  { sm, maxBindings }: Session,
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
  const uid = cert.metadata.uid;
  const labelled = (await sm.listBindingsByLabel(LABEL_UID, uid)).filter(
    (b) => bindingMismatch(b, { uid }) === undefined,
  );
  const sameRevision = labelled.filter(
    (b) => b.instanceId === instanceId && b.labels[LABEL_REVISION]?.includes(String(revision)),
  );
  const ready = sameRevision.find((b) => b.ready);
  if (ready !== undefined) {
    const full = await sm.getBinding(ready.id);
    if (full !== undefined) {
      notOwnedUnless(full, { uid, id: ready.id, name: ready.name, instanceId });
      return full;
    }
  }
  const live = liveBindings(cert, labelled);
  if (live >= maxBindings) throw new BindingLimitReached(live, maxBindings);
  // A name can also be held by a creation that lists nowhere yet (409): then take the next one.
  const taken = new Set(sameRevision.map((b) => b.name));
  const base = bindingName(cert.metadata.uid, revision);
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (taken.has(name)) continue;
    let created: SmBinding;
    try {
      created = await sm.createBinding({
        name,
        instanceId,
        parameters: bindingParameters(spec),
        labels: bindingLabels(cert, revision),
      });
    } catch (e) {
      if (n >= MAX_NAME_ATTEMPTS || (e as { code?: unknown }).code !== 'BtpConflict') throw e;
      taken.add(name);
      continue;
    }
    notOwnedUnless(created, { uid, name, instanceId });
    return created;
  }
}

/** Names tried for one revision before giving up (each stuck creation holds one). */
const MAX_NAME_ATTEMPTS = 5;

/** Bindings of a BTPCertificate that exist: recorded (current, retired) or listed with its label. */
function liveBindings(cert: BTPCertificate, labelled: readonly SmBinding[]): number {
  const ids = new Set(labelled.map((b) => b.id));
  if (cert.status?.binding !== undefined) ids.add(cert.status.binding.id);
  for (const r of cert.status?.retiredBindings ?? []) ids.add(r.id);
  return ids.size;
}

class BindingLimitReached extends Error {
  readonly code = 'BindingLimitReached';
  constructor(live: number, max: number) {
    super(
      `the BTPCertificate has ${live} live bindings (current, retired or left over); at most ${max} are allowed (--max-bindings-per-certificate): the next is created once a retired one is deleted (spec.rotatedBindingTTL)`,
    );
  }
}

/** A Service Manager answered with a binding that is not the one asked for (ADR 0011). */
class BindingNotOwned extends Error {
  readonly code = 'BindingNotOwned';
}

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
    case 'BindingLimitReached':
      return { reason: 'BindingLimitReached', message, stalls: false };
    case 'BindingNotOwned':
      return { reason: 'BindingNotOwned', message, stalls: true };
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
    case 'BtpHostNotAllowed':
      return {
        reason: 'HostNotAllowed',
        message: `the Service Manager access Secret's sm_url or tokenurl is not an endpoint the operator may contact: ${message}`,
        stalls: true,
      };
    default:
      return { reason: 'ServiceManagerError', message, stalls: false };
  }
}
