// The decision for one BTPCertificate: from what was observed to what the Secret, the status and
// the source should become. Pure: no I/O, the time is an input.
import { ConditionType, type Reason, Reasons } from '../api/conditions.ts';
import { earliest, iso } from '../api/time.ts';
import type { BTPCertificate, BTPCertificateStatus, Condition } from '../api/types.ts';
import { certificateInfo, combinedPem, parseCredentialPems, pkcs12 } from '../pki/index.ts';
import type { SourceFailure, X509Credentials } from '../sources/credentials.ts';
import { jitteredRenewal } from './bindings.ts';
import { type DesiredCondition, findCondition, setCondition } from './conditions.ts';
import { renewalTime } from './renewal.ts';
import { type DesiredSecret, desiredSecret, type ExistingSecret, isUpToDate, secretData } from './secret.ts';
import { renderTemplateData } from './template.ts';

/** How the source can be asked for new credentials when renewal is due. */
export type RenewalMechanism =
  | {
      readonly kind: 'service-binding';
      readonly name: string;
      readonly rotationEnabled: boolean;
      readonly rotationRequested: boolean;
      /**
       * Why the BTP operator does not act on a rotation request now (it skips forceRotate while the
       * ServiceBinding's Succeeded condition is False); undefined when nothing stands in the way.
       */
      readonly rotationBlocked?: string | undefined;
    }
  | { readonly kind: 'service-manager' }
  | { readonly kind: 'none' };

export type SourceObservation =
  | {
      readonly ok: true;
      readonly description: string;
      readonly revision: string;
      readonly credentials: X509Credentials;
      readonly renewal: RenewalMechanism;
    }
  | (SourceFailure & { readonly description: string });

export type PasswordObservation =
  | { readonly ok: true; readonly password: string }
  | { readonly ok: false; readonly message: string };

export type Observed = {
  readonly certificate: BTPCertificate;
  readonly source: SourceObservation;
  /** The target Secret as it is, or undefined when there is none. */
  readonly secret: ExistingSecret | undefined;
  /** Present when a PKCS12 output is requested. */
  readonly keystorePassword: PasswordObservation | undefined;
  readonly now: Date;
};

export type EventSpec = {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
};

export type Plan = {
  /** The Secret to apply, with the keystore bytes when PKCS12 is requested; undefined: it is up to date. */
  readonly write: { readonly secret: DesiredSecret; readonly keystore: Buffer | undefined } | undefined;
  readonly rotate: { readonly serviceBinding: string } | undefined;
  readonly status: BTPCertificateStatus;
  readonly events: readonly EventSpec[];
  /** When to look again even if nothing changes; undefined: only on change (and resync). */
  readonly requeueAt: Date | undefined;
  /** The validated credentials the Secret holds after this plan (for the token check); undefined when invalid. */
  readonly credentials?: ValidCredentials;
};

export type ValidCredentials = {
  readonly fingerprint: string;
  /** As written to the Secret: the chain leaf first, and the key. */
  readonly chainPem: string;
  readonly keyPem: string;
  readonly fields: X509Credentials['fields'];
};

/**
 * How long to wait before asking a ServiceBinding again to rotate a certificate it was already
 * asked to rotate (a certificate the source no longer holds needs no wait): a share of the
 * certificate's lifetime, and of the time it had left when asked, between a floor and a ceiling.
 * The time left counts because CAs backdate notBefore: a certificate issued for 60 s and backdated
 * by an hour has a lifetime of an hour and a minute. See rotationRetryMs.
 */
export const ROTATION_RETRY = {
  lifetimeShare: 0.05,
  timeLeftShare: 0.25,
  minMs: 10_000,
  maxMs: 15 * 60_000,
} as const;

export function rotationRetryMs(notBefore: Date, notAfter: Date, requestedAt: Date): number {
  const bounds = [
    ROTATION_RETRY.maxMs,
    (notAfter.getTime() - notBefore.getTime()) * ROTATION_RETRY.lifetimeShare,
  ];
  const left = notAfter.getTime() - requestedAt.getTime();
  if (left > 0) bounds.push(left * ROTATION_RETRY.timeLeftShare);
  return Math.max(ROTATION_RETRY.minMs, Math.round(Math.min(...bounds)));
}

/** A rotation request as status records it: when, and for which certificate (SHA-256 fingerprint). */
type RotationRequest = { readonly at: Date; readonly fingerprint: string | undefined };

/** The certificate the source holds, as far as a rotation request is concerned. */
type RotationSubject = {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly fingerprint: string | undefined;
};

function lastRotationRequest(status: BTPCertificateStatus | undefined): RotationRequest | undefined {
  const at = status?.lastRotationRequestTime;
  if (at === undefined) return undefined;
  // A status written before the fingerprint was recorded names no certificate: such a request
  // is spent only once the retry time has passed.
  return { at: new Date(at), fingerprint: status?.lastRotationRequestFingerprint };
}

/**
 * Whether the source may be asked (again) to rotate the certificate it holds, and when to look
 * again. A request made for another certificate was answered by the one the source holds now,
 * whatever the times say (CAs backdate notBefore, so "issued after the request" cannot be read from
 * it); a request for this certificate is repeated once it has gone unanswered for the retry time.
 */
function rotationAsk(
  last: RotationRequest | undefined,
  cert: RotationSubject,
  now: Date,
): { readonly ask: boolean; readonly recheckAt: Date } {
  const spent =
    last === undefined ||
    (cert.fingerprint !== undefined &&
      last.fingerprint !== undefined &&
      last.fingerprint !== cert.fingerprint);
  if (!spent) {
    const retryAt = new Date(last.at.getTime() + rotationRetryMs(cert.notBefore, cert.notAfter, last.at));
    if (now < retryAt) return { ask: false, recheckAt: retryAt };
  }
  return {
    ask: true,
    recheckAt: new Date(now.getTime() + rotationRetryMs(cert.notBefore, cert.notAfter, now)),
  };
}

function rotationRequestStatus(at: Date, fingerprint: string): BTPCertificateStatus {
  return { lastRotationRequestTime: iso(at), lastRotationRequestFingerprint: fingerprint };
}
/** How soon to look again at a certificate that is not valid yet. */
export const NOT_YET_VALID_RECHECK_MS = 30_000;

export function decide(o: Observed): Plan {
  const cert = o.certificate;
  const previous = cert.status ?? {};
  const base: BTPCertificateStatus = {
    ...previous,
    observedGeneration: cert.metadata.generation,
    source: o.source.description,
  };

  if (o.secret !== undefined && o.secret.controllerUid !== cert.metadata.uid) {
    const owner =
      o.secret.controllerUid === undefined ? 'has no controller' : 'is controlled by another object';
    return failed(
      o,
      base,
      'SecretConflict',
      `Secret ${cert.spec.secretName} already exists and ${owner}; it is left untouched`,
    );
  }
  if (!o.source.ok) return failed(o, base, o.source.reason, o.source.message);

  const parsed = parseCredentialPems({
    certificate: o.source.credentials.certificate,
    key: o.source.credentials.key,
    now: o.now,
  });
  if (!parsed.ok) {
    return failed(o, base, parsed.error.code, `${o.source.description}: ${parsed.error.message}`, {
      // Not valid yet becomes valid by itself: look again soon.
      ...(parsed.error.code === 'NotYetValid' ? { recheckAfterMs: NOT_YET_VALID_RECHECK_MS } : {}),
    });
  }
  const bundle = parsed.value;
  const leaf = bundle.leaf;

  const templates = cert.spec.secretTemplate?.data ?? {};
  const rendered = renderTemplateData(templates, o.source.credentials.fields);
  if (!rendered.ok) return failed(o, base, 'InvalidSecretTemplate', rendered.message);

  const formats = cert.spec.additionalOutputFormats ?? [];
  const wantsKeystore = formats.some((f) => f.type === 'PKCS12');
  if (wantsKeystore && o.keystorePassword !== undefined && !o.keystorePassword.ok) {
    return failed(o, base, 'PasswordSecretNotFound', o.keystorePassword.message);
  }
  const data = secretData({
    chainPem: bundle.chainPem,
    caPem: bundle.caPem,
    keyPem: bundle.keyPem,
    ...(formats.some((f) => f.type === 'CombinedPEM') ? { combinedPem: combinedPem(bundle) } : {}),
    fields: o.source.credentials.fields,
    templateData: rendered.data,
  });
  const desired = desiredSecret({
    name: cert.spec.secretName,
    owner: { name: cert.metadata.name, uid: cert.metadata.uid, labels: cert.metadata.labels ?? {} },
    template: {
      ...(cert.spec.secretTemplate?.labels ? { labels: cert.spec.secretTemplate.labels } : {}),
      ...(cert.spec.secretTemplate?.annotations ? { annotations: cert.spec.secretTemplate.annotations } : {}),
    },
    data,
    keystorePassword: wantsKeystore && o.keystorePassword?.ok ? o.keystorePassword.password : undefined,
  });
  const write =
    o.secret !== undefined && isUpToDate(o.secret, desired, cert.metadata.uid) ? undefined : desired;
  // The keystore has a random salt, so it is built only when the Secret is written.
  let keystore: Buffer | undefined;
  if (write?.keystore !== undefined) {
    const p12 = pkcs12(bundle, write.keystore.password);
    if (!p12.ok) return failed(o, base, 'OutputFormatFailed', `PKCS12: ${p12.error.message}`);
    keystore = p12.value;
  }

  const plainRenewAt = renewalTime(leaf.notBefore, leaf.notAfter, {
    ...(cert.spec.renewBefore !== undefined ? { renewBefore: cert.spec.renewBefore } : {}),
    ...(cert.spec.renewBeforePercentage !== undefined
      ? { renewBeforePercentage: cert.spec.renewBeforePercentage }
      : {}),
  });
  // Bindings the operator issues itself renew with a per-resource jitter, so that certificates
  // issued together do not all renew at the same second.
  const renewAt =
    o.source.renewal.kind === 'service-manager'
      ? jitteredRenewal(plainRenewAt, leaf.notBefore, leaf.notAfter, cert.metadata.uid)
      : plainRenewAt;
  const events: EventSpec[] = [];
  if (write !== undefined)
    events.push(writeEvent(o, leaf.sha256Fingerprint, leaf.notAfter, cert.spec.secretName));

  let status: BTPCertificateStatus = {
    ...base,
    sourceRevision: o.source.revision,
    notBefore: iso(leaf.notBefore),
    notAfter: iso(leaf.notAfter),
    renewalTime: iso(renewAt),
    serialNumber: leaf.serialNumber,
    subject: leaf.subject,
    issuer: leaf.issuer,
    sha256Fingerprint: leaf.sha256Fingerprint,
    secretHash: desired.dataHash,
  };
  const conditions = withSummary(
    previous.conditions ?? [],
    {
      type: ConditionType.Ready,
      status: 'True',
      reason: 'Issued',
      message: `Secret ${cert.spec.secretName} holds valid credentials (${leaf.subject}) until ${iso(leaf.notAfter)}`,
    },
    o.now,
    cert.metadata.generation,
  );

  // Renewal: ask the source for new credentials once it is due.
  const renewal = decideRenewal(o, renewAt, leaf);
  status = {
    ...status,
    conditions: setCondition(conditions, renewal.condition, o.now, cert.metadata.generation),
  };
  if (renewal.requestedAt !== undefined)
    status = { ...status, ...rotationRequestStatus(renewal.requestedAt, leaf.sha256Fingerprint) };
  if (renewal.event !== undefined && changed(previous.conditions, renewal.condition))
    events.push(renewal.event);

  // The certificate is valid through the millisecond of its notAfter: look again just after it.
  const expiresAt = new Date(leaf.notAfter.getTime() + 1000);
  const next = [renewal.recheckAt, expiresAt].filter((d): d is Date => d !== undefined && d > o.now);
  return {
    write: write === undefined ? undefined : { secret: write, keystore },
    rotate: renewal.rotate,
    status,
    events,
    requeueAt: earliest(...next),
    credentials: {
      fingerprint: leaf.sha256Fingerprint,
      chainPem: bundle.chainPem,
      keyPem: bundle.keyPem,
      fields: o.source.credentials.fields,
    },
  };
}

function decideRenewal(
  o: Observed,
  renewAt: Date,
  leaf: { readonly notBefore: Date; readonly notAfter: Date; readonly sha256Fingerprint: string },
): {
  condition: DesiredCondition;
  rotate: Plan['rotate'];
  requestedAt: Date | undefined;
  event: EventSpec | undefined;
  recheckAt: Date | undefined;
} {
  const none = { rotate: undefined, requestedAt: undefined, event: undefined };
  if (o.now < renewAt) {
    return {
      ...none,
      condition: {
        type: ConditionType.Renewal,
        status: 'False',
        reason: 'NotDue',
        message: `renewal is due at ${iso(renewAt)}`,
      },
      recheckAt: renewAt,
    };
  }
  if (o.source.ok && o.source.renewal.kind === 'service-manager') {
    // The shell issues the next binding before deciding; due here means that is still going on.
    return {
      ...none,
      condition: {
        type: ConditionType.Renewal,
        status: 'True',
        reason: 'Renewing',
        message: `renewal due since ${iso(renewAt)}; issuing a new binding through Service Manager`,
      },
      recheckAt: undefined,
    };
  }
  if (!o.source.ok || o.source.renewal.kind !== 'service-binding') {
    return {
      ...none,
      condition: {
        type: ConditionType.Renewal,
        status: 'False',
        reason: 'SourceCannotRenew',
        message: `renewal was due at ${iso(renewAt)}, but a Secret source cannot be asked for new credentials; update it before it expires`,
      },
      event: {
        type: 'Warning',
        reason: 'SourceCannotRenew',
        message: `renewal due since ${iso(renewAt)}; the source Secret must be updated`,
      },
      recheckAt: undefined,
    };
  }
  const sb = o.source.renewal;
  if (!sb.rotationEnabled) {
    return {
      ...none,
      condition: {
        type: ConditionType.Renewal,
        status: 'False',
        reason: 'RotationNotEnabled',
        message: `renewal was due at ${iso(renewAt)}, but ServiceBinding ${sb.name} has credentialsRotationPolicy.enabled unset; enable it or rotate by hand`,
      },
      event: {
        type: 'Warning',
        reason: 'RotationNotEnabled',
        message: `renewal due since ${iso(renewAt)}; ServiceBinding ${sb.name} has rotation disabled`,
      },
      recheckAt: undefined,
    };
  }
  const last = lastRotationRequest(o.certificate.status);
  const next = rotationAsk(last, { ...leaf, fingerprint: leaf.sha256Fingerprint }, o.now);
  if (sb.rotationRequested && sb.rotationBlocked !== undefined && (last === undefined || next.ask)) {
    // The request stands, but the BTP operator skips it while the ServiceBinding reports an
    // unfinished operation; it rotates once that clears, so the annotation stays.
    const asked = last === undefined ? '' : ` at ${iso(last.at)}`;
    return {
      ...none,
      condition: {
        type: ConditionType.Renewal,
        status: 'False',
        reason: 'SourceNotReady',
        message: `renewal due since ${iso(renewAt)}; ServiceBinding ${sb.name} was asked to rotate${asked} but does not: ${sb.rotationBlocked}, and the BTP operator skips forceRotate until that clears (a change of its spec does); the certificate expires at ${iso(leaf.notAfter)}`,
      },
      event: {
        type: 'Warning',
        reason: 'SourceNotReady',
        message: `ServiceBinding ${sb.name} does not act on the rotation request: ${sb.rotationBlocked}; the certificate expires at ${iso(leaf.notAfter)}`,
      },
      recheckAt: undefined,
    };
  }
  const ask = !sb.rotationRequested && next.ask;
  const requestedAt = ask ? o.now : (last?.at ?? o.now);
  return {
    condition: {
      type: ConditionType.Renewal,
      status: 'True',
      reason: 'RotationRequested',
      message: `renewal due since ${iso(renewAt)}; asked ServiceBinding ${sb.name} to rotate at ${iso(requestedAt)}`,
    },
    rotate: ask ? { serviceBinding: sb.name } : undefined,
    requestedAt: ask ? o.now : undefined,
    event: ask
      ? {
          type: 'Normal',
          reason: 'RotationRequested',
          message: `asked ServiceBinding ${sb.name} to rotate its credentials`,
        }
      : undefined,
    // Look again when an unanswered request may be repeated (or reported as blocked).
    recheckAt: next.recheckAt,
  };
}

/** Ready plus the kstatus conditions derived from it: Reconciling and Stalled. (TokenReady: ./token.ts.) */
export function withSummary(
  conditions: readonly Condition[],
  ready: DesiredCondition,
  now: Date,
  generation: number,
  /** Whether the failure needs a change; the reason's catalogue entry when absent. */
  stallsOverride?: boolean,
): Condition[] {
  let next = setCondition(conditions, ready, now, generation);
  const failing = ready.status !== 'True';
  const stalls = failing && (stallsOverride ?? Reasons[ready.reason].stalls);
  next = setCondition(
    next,
    {
      type: ConditionType.Stalled,
      status: stalls ? 'True' : 'False',
      reason: stalls ? ready.reason : 'Progressing',
      message: stalls ? ready.message : 'not stalled',
    },
    now,
    generation,
  );
  return setCondition(
    next,
    {
      type: ConditionType.Reconciling,
      status: failing && !stalls ? 'True' : 'False',
      reason: failing && !stalls ? ready.reason : 'Progressing',
      message: failing && !stalls ? ready.message : 'not reconciling',
    },
    now,
    generation,
  );
}

function failed(
  o: Observed,
  base: BTPCertificateStatus,
  reason: Reason,
  message: string,
  opts: { recheckAfterMs?: number } = {},
): Plan {
  const generation = o.certificate.metadata.generation;
  const ready: DesiredCondition = { type: ConditionType.Ready, status: 'False', reason, message };
  const conditions = withSummary(base.conditions ?? [], ready, o.now, generation);
  const events: EventSpec[] = changed(base.conditions, ready) ? [{ type: 'Warning', reason, message }] : [];
  let status: BTPCertificateStatus = { ...base, conditions };
  // Expired credentials from a ServiceBinding that can rotate: ask for new ones all the same.
  let rotate: Plan['rotate'];
  const renewal = o.source.ok ? o.source.renewal : undefined;
  let rotationRecheckAt: Date | undefined;
  // Expired means the certificate parsed, so its identity can be read.
  const expired =
    reason === 'Expired' && o.source.ok ? certificateInfo(o.source.credentials.certificate) : undefined;
  if (
    expired?.ok === true &&
    renewal?.kind === 'service-binding' &&
    renewal.rotationEnabled &&
    !renewal.rotationRequested
  ) {
    // The rule of decideRenewal: a request made for another certificate is spent.
    const fingerprint = expired.value.sha256Fingerprint;
    const next = rotationAsk(lastRotationRequest(base), { ...expired.value, fingerprint }, o.now);
    rotationRecheckAt = next.recheckAt;
    if (next.ask) {
      rotate = { serviceBinding: renewal.name };
      status = { ...status, ...rotationRequestStatus(o.now, fingerprint) };
      events.push({
        type: 'Normal',
        reason: 'RotationRequested',
        message: `asked ServiceBinding ${renewal.name} to rotate its expired credentials`,
      });
    }
  }
  return {
    write: undefined,
    rotate,
    status,
    events,
    requeueAt: earliest(
      opts.recheckAfterMs === undefined ? undefined : new Date(o.now.getTime() + opts.recheckAfterMs),
      rotationRecheckAt,
    ),
  };
}

function writeEvent(o: Observed, fingerprint: string, notAfter: Date, secretName: string): EventSpec {
  if (o.secret === undefined) {
    return {
      type: 'Normal',
      reason: 'Issued',
      message: `wrote Secret ${secretName}, valid until ${iso(notAfter)}`,
    };
  }
  if (
    o.certificate.status?.sha256Fingerprint === fingerprint &&
    o.certificate.status.secretHash !== undefined
  ) {
    return {
      type: 'Warning',
      reason: 'Restored',
      message: `Secret ${secretName} was changed by someone else; restored it`,
    };
  }
  return {
    type: 'Normal',
    reason: 'Updated',
    message: `updated Secret ${secretName}, valid until ${iso(notAfter)}`,
  };
}

function changed(conditions: readonly Condition[] | undefined, desired: DesiredCondition): boolean {
  const c = findCondition(conditions, desired.type);
  return (
    c === undefined ||
    c.status !== desired.status ||
    c.reason !== desired.reason ||
    c.message !== desired.message
  );
}
