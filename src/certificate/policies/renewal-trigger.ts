// The renewal-trigger chain: is renewal due, and what is asked of the source? Ordered checks, the
// first that answers wins: not due yet, issued by Service Manager, a source that cannot renew,
// rotation not enabled, a rotation request the source does not act on, a rotation request (made or
// standing). Also the request for credentials that expired already. The retry rule of a rotation
// request (rotationAsk, rotationRetryMs) lives here and nowhere else. Pure.
import { ConditionType } from '../../api/conditions.ts';
import { earliest, iso } from '../../api/time.ts';
import type { BTPCertificateStatus } from '../../api/types.ts';
import type { CertificateInfo } from '../../pki/index.ts';
import type { DesiredCondition } from '../conditions.ts';
import type { EventSpec, Observed, Plan, RenewalMechanism } from '../plan.ts';

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

/** The status fields that record a rotation request. */
export function rotationRequestStatus(at: Date, fingerprint: string): BTPCertificateStatus {
  return { lastRotationRequestTime: iso(at), lastRotationRequestFingerprint: fingerprint };
}

export type RenewalVerdict = {
  /** The Renewal condition; undefined: it stays as stored. */
  readonly condition: DesiredCondition | undefined;
  readonly rotate: Plan['rotate'];
  /** A rotation request made now, for the certificate with this fingerprint. */
  readonly request: { readonly at: Date; readonly fingerprint: string } | undefined;
  readonly event: EventSpec | undefined;
  readonly recheckAt: Date | undefined;
};

type Leaf = Pick<CertificateInfo, 'notBefore' | 'notAfter' | 'sha256Fingerprint'>;
type Ctx = {
  readonly o: Observed;
  readonly renewAt: Date;
  readonly leaf: Leaf;
  readonly mechanism: RenewalMechanism;
};
type Check = (c: Ctx) => RenewalVerdict | undefined;

const quiet = { rotate: undefined, request: undefined, event: undefined } as const;
const renewal = (status: 'True' | 'False', reason: DesiredCondition['reason'], message: string) => ({
  type: ConditionType.Renewal,
  status,
  reason,
  message,
});

const notDue: Check = ({ o, renewAt, mechanism }) =>
  o.now < renewAt
    ? {
        ...quiet,
        condition: renewal('False', 'NotDue', `renewal is due at ${iso(renewAt)}`),
        recheckAt: mechanism.kind === 'destination' ? earliest(renewAt, mechanism.nextReadAt) : renewAt,
      }
    : undefined;

/** Due for a serviceManager source: the issuance step issues the next binding; it is still going on. */
const issuedByServiceManager: Check = ({ renewAt, mechanism }) =>
  mechanism.kind === 'service-manager'
    ? {
        ...quiet,
        condition: renewal(
          'True',
          'Renewing',
          `renewal due since ${iso(renewAt)}; issuing a new binding through Service Manager`,
        ),
        recheckAt: undefined,
      }
    : undefined;

/** The share of the lifetime before notAfter by which a renewed certificate must have appeared. */
export const EXPIRING_SHARE = 0.1;

/**
 * Due for a destination source: the Destination service renews the certificates it generated, and
 * the source is read again until the renewed one appears; Expiring once 10 % of the lifetime is left.
 */
const renewedByDestination: Check = ({ o, renewAt, leaf, mechanism }) => {
  if (mechanism.kind !== 'destination') return undefined;
  const lifetime = leaf.notAfter.getTime() - leaf.notBefore.getTime();
  const expiringAt = new Date(leaf.notAfter.getTime() - Math.floor(lifetime * EXPIRING_SHARE));
  if (o.now < expiringAt) {
    return {
      ...quiet,
      condition: renewal(
        'True',
        'Renewing',
        `renewal due since ${iso(renewAt)}; reading the Destination service for the renewed certificate`,
      ),
      recheckAt: earliest(mechanism.nextReadAt, expiringAt),
    };
  }
  return {
    ...quiet,
    condition: renewal(
      'False',
      'Expiring',
      `renewal was due at ${iso(renewAt)}, and the Destination service has no renewed certificate; it expires at ${iso(leaf.notAfter)}`,
    ),
    event: {
      type: 'Warning',
      reason: 'Expiring',
      message: `the Destination service did not renew the certificate; it expires at ${iso(leaf.notAfter)}`,
    },
    recheckAt: mechanism.nextReadAt,
  };
};

/** Due for a generated certificate: gather makes a new key and CSR; a failed try says why. */
const generatedByOperator: Check = ({ renewAt, mechanism }) => {
  if (mechanism.kind !== 'destination-generate') return undefined;
  const failure = mechanism.failure;
  if (failure === undefined) {
    return {
      ...quiet,
      condition: renewal(
        'True',
        'Renewing',
        `renewal due since ${iso(renewAt)}; a new key and CSR go to the Destination service`,
      ),
      recheckAt: undefined,
    };
  }
  return {
    ...quiet,
    condition: renewal(
      'False',
      failure.reason,
      `renewal due since ${iso(renewAt)}, and the Destination service did not sign a new key: ${failure.message}; tried again at ${iso(failure.retryAt)}`,
    ),
    event: { type: 'Warning', reason: failure.reason, message: `renewal failed: ${failure.message}` },
    recheckAt: failure.retryAt,
  };
};

const cannotRenew: Check = ({ renewAt, mechanism }) =>
  mechanism.kind !== 'service-binding'
    ? {
        ...quiet,
        condition: renewal(
          'False',
          'SourceCannotRenew',
          `renewal was due at ${iso(renewAt)}, but a Secret source cannot be asked for new credentials; update it before it expires`,
        ),
        event: {
          type: 'Warning',
          reason: 'SourceCannotRenew',
          message: `renewal due since ${iso(renewAt)}; the source Secret must be updated`,
        },
        recheckAt: undefined,
      }
    : undefined;

const rotationNotEnabled: Check = ({ renewAt, mechanism: sb }) =>
  sb.kind === 'service-binding' && !sb.rotationEnabled
    ? {
        ...quiet,
        condition: renewal(
          'False',
          'RotationNotEnabled',
          `renewal was due at ${iso(renewAt)}, but ServiceBinding ${sb.name} has credentialsRotationPolicy.enabled unset; enable it or rotate by hand`,
        ),
        event: {
          type: 'Warning',
          reason: 'RotationNotEnabled',
          message: `renewal due since ${iso(renewAt)}; ServiceBinding ${sb.name} has rotation disabled`,
        },
        recheckAt: undefined,
      }
    : undefined;

/**
 * The request stands, but the BTP operator skips it while the ServiceBinding reports an unfinished
 * operation; it rotates once that clears, so the annotation stays.
 */
const rotationBlocked: Check = ({ o, renewAt, leaf, mechanism: sb }) => {
  if (sb.kind !== 'service-binding' || !sb.rotationRequested || sb.rotationBlocked === undefined) {
    return undefined;
  }
  const last = lastRotationRequest(o.certificate.status);
  const next = rotationAsk(last, { ...leaf, fingerprint: leaf.sha256Fingerprint }, o.now);
  if (last !== undefined && !next.ask) return undefined;
  const asked = last === undefined ? '' : ` at ${iso(last.at)}`;
  return {
    ...quiet,
    condition: renewal(
      'False',
      'SourceNotReady',
      `renewal due since ${iso(renewAt)}; ServiceBinding ${sb.name} was asked to rotate${asked} but does not: ${sb.rotationBlocked}, and the BTP operator skips forceRotate until that clears (a change of its spec does); the certificate expires at ${iso(leaf.notAfter)}`,
    ),
    event: {
      type: 'Warning',
      reason: 'SourceNotReady',
      message: `ServiceBinding ${sb.name} does not act on the rotation request: ${sb.rotationBlocked}; the certificate expires at ${iso(leaf.notAfter)}`,
    },
    recheckAt: undefined,
  };
};

const rotationRequested: Check = ({ o, renewAt, leaf, mechanism: sb }) => {
  if (sb.kind !== 'service-binding') return undefined;
  const last = lastRotationRequest(o.certificate.status);
  const next = rotationAsk(last, { ...leaf, fingerprint: leaf.sha256Fingerprint }, o.now);
  const ask = !sb.rotationRequested && !sb.rotationInProgress && next.ask;
  // The time of our own request, which status keeps; a request someone else made (the annotation is
  // there, no request of ours is recorded) has none to name: the time of this reconcile would make
  // every reconcile write the status.
  const requestedAt = ask ? o.now : last?.at;
  return {
    condition: renewal(
      'True',
      'RotationRequested',
      requestedAt === undefined
        ? `renewal due since ${iso(renewAt)}; ServiceBinding ${sb.name} has a rotation request (services.cloud.sap.com/forceRotate) pending`
        : `renewal due since ${iso(renewAt)}; asked ServiceBinding ${sb.name} to rotate at ${iso(requestedAt)}`,
    ),
    rotate: ask ? { serviceBinding: sb.name } : undefined,
    request: ask ? { at: o.now, fingerprint: leaf.sha256Fingerprint } : undefined,
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
};

/** The renewal-trigger chain, in order. */
export const RENEWAL_TRIGGER: readonly Check[] = [
  notDue,
  issuedByServiceManager,
  renewedByDestination,
  generatedByOperator,
  cannotRenew,
  rotationNotEnabled,
  rotationBlocked,
  rotationRequested,
];

/** Renewal of valid credentials whose renewal time is renewAt. */
export function renewalTrigger(o: Observed, mechanism: RenewalMechanism, renewAt: Date, leaf: Leaf) {
  const ctx: Ctx = { o, renewAt, leaf, mechanism };
  for (const check of RENEWAL_TRIGGER) {
    const verdict = check(ctx);
    if (verdict !== undefined) return verdict;
  }
  // Unreachable: rotationRequested answers for every service-binding source.
  return { ...quiet, condition: undefined, recheckAt: undefined } satisfies RenewalVerdict;
}

/**
 * Credentials that expired already, from a ServiceBinding that can rotate: ask for new ones all
 * the same, by the same rule. Renewal stays as stored.
 */
export function expiredRenewal(
  o: Observed,
  mechanism: RenewalMechanism | undefined,
  expired: RotationSubject & { readonly fingerprint: string },
): RenewalVerdict {
  const none: RenewalVerdict = { ...quiet, condition: undefined, recheckAt: undefined };
  if (
    mechanism?.kind !== 'service-binding' ||
    !mechanism.rotationEnabled ||
    mechanism.rotationRequested ||
    mechanism.rotationInProgress
  ) {
    return none;
  }
  const last = lastRotationRequest(o.certificate.status);
  // A source that answered a request with credentials that are expired too is not asked again before
  // the retry time, whatever certificate it now holds: asking at once would loop as fast as it issues.
  if (last !== undefined) {
    const retryAt = new Date(
      last.at.getTime() + rotationRetryMs(expired.notBefore, expired.notAfter, last.at),
    );
    if (o.now < retryAt) return { ...none, recheckAt: retryAt };
  }
  const next = rotationAsk(last, expired, o.now);
  if (!next.ask) return { ...none, recheckAt: next.recheckAt };
  return {
    condition: undefined,
    rotate: { serviceBinding: mechanism.name },
    request: { at: o.now, fingerprint: expired.fingerprint },
    event: {
      type: 'Normal',
      reason: 'RotationRequested',
      message: `asked ServiceBinding ${mechanism.name} to rotate its expired credentials`,
    },
    recheckAt: next.recheckAt,
  };
}
