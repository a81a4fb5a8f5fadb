// The serviceManager source's pure decisions: deterministic binding names and labels, binding
// parameters, renewal jitter, retirement and failure backoff. No I/O; time is an argument.
import { createHash } from 'node:crypto';
import { DEFAULTS, MAX_ROTATED_BINDING_TTL } from '../api/schema.ts';
import type { BTPCertificate, BTPCertificateStatus } from '../api/types.ts';
import { backoffDelay } from '../runtime/backoff.ts';
import { isRecord } from '../runtime/is-record.ts';
import { boundedDuration, durationConstant } from './duration.ts';

export const LABEL_UID = 'btpcerts.io/certificate-uid';
export const LABEL_NAMESPACE = 'btpcerts.io/namespace';
export const LABEL_NAME = 'btpcerts.io/name';
export const LABEL_REVISION = 'btpcerts.io/revision';
export const LABEL_MANAGED_BY = 'btpcerts.io/managed-by';
export const MANAGED_BY = 'btp-cert-operator';
export const RENEW_ANNOTATION = 'btpcerts.io/renew-requested-at';
export const BINDINGS_FINALIZER = 'btpcerts.io/service-bindings';

export const DEFAULT_ROTATED_BINDING_TTL_MS = durationConstant(DEFAULTS.rotatedBindingTTL);
/** Live bindings (current, retired, left over) a BTPCertificate may have before it creates one:
 * the current one, its successor and one more retired (--max-bindings-per-certificate). */
export const DEFAULT_MAX_BINDINGS = 3;
export const MAX_BINDINGS_RANGE = { min: 2, max: 20 } as const;
/** Renewal jitter: at most this share of the lifetime, and at most MAX_JITTER_MS, earlier. */
export const JITTER_SHARE = 0.05;
export const MAX_JITTER_MS = 60 * 60_000;
export const ISSUE_BACKOFF = { baseMs: 10_000, maxMs: 30 * 60_000, jitter: 0.2 } as const;

type ServiceManagerSpec = NonNullable<BTPCertificate['spec']['source']['serviceManager']>;
export type BindingRef = NonNullable<BTPCertificateStatus['binding']>;
export type RetiredBinding = NonNullable<BTPCertificateStatus['retiredBindings']>[number];

/** Binding names are a function of the BTPCertificate's uid and the revision: a restarted operator finds what it created. */
export const bindingName = (uid: string, revision: number) => `btpcert-${uid}-r${revision}`;

export function bindingLabels(cert: BTPCertificate, revision: number): Record<string, string[]> {
  return {
    [LABEL_UID]: [cert.metadata.uid],
    [LABEL_NAMESPACE]: [cert.metadata.namespace],
    [LABEL_NAME]: [cert.metadata.name],
    [LABEL_REVISION]: [String(revision)],
    [LABEL_MANAGED_BY]: [MANAGED_BY],
  };
}

/** What a binding must be to be this BTPCertificate's: its uid label, and where asked for, the ID,
 * name and instance requested. */
export type BindingClaim = {
  readonly uid: string;
  readonly id?: string;
  readonly name?: string;
  readonly instanceId?: string;
};

/**
 * Why a binding a Service Manager answered with is not the one claimed (undefined: it is). A
 * Service Manager is named by the tenant (sm_url), so what it answers is checked, not trusted: a
 * binding serves, is kept or is deleted only if its labels name this BTPCertificate alone.
 */
export function bindingMismatch(
  binding: {
    readonly id: string;
    readonly name: string;
    readonly instanceId: string;
    readonly labels: Readonly<Record<string, readonly string[]>>;
  },
  claim: BindingClaim,
): string | undefined {
  // What the Service Manager answered goes into a status message: at most SHOWN characters of it.
  const id = shown(binding.id);
  const uids = binding.labels[LABEL_UID] ?? [];
  if (uids.length !== 1 || uids[0] !== claim.uid) {
    return `binding ${id} does not carry the label ${LABEL_UID}=${claim.uid}`;
  }
  if (claim.id !== undefined && binding.id !== claim.id) {
    return `Service Manager answered with binding ${id} where ${claim.id} was asked for`;
  }
  if (claim.name !== undefined && binding.name !== claim.name) {
    return `binding ${id} is named ${shown(binding.name)}, not ${claim.name}`;
  }
  if (claim.instanceId !== undefined && binding.instanceId !== claim.instanceId) {
    return `binding ${id} belongs to service instance ${shown(binding.instanceId)}, not ${claim.instanceId}`;
  }
  return undefined;
}

const SHOWN = 100;
const shown = (text: string) => (text.length > SHOWN ? `${text.slice(0, SHOWN)}…` : text);

/** The binding parameters: the x509 request, at the top or under "xsuaa", merged with the user's. */
export function bindingParameters(sm: ServiceManagerSpec): Record<string, unknown> {
  const x509 = {
    'credential-type': 'x509',
    x509: {
      'key-length': sm.x509?.keyLength ?? DEFAULTS.keyLength,
      validity: sm.x509?.validity ?? DEFAULTS.validity,
      'validity-type': sm.x509?.validityType ?? DEFAULTS.validityType,
    },
  };
  const extra = isRecord(sm.parameters) ? sm.parameters : {};
  if (sm.parametersLocation === 'XSUAA') {
    const xsuaa = isRecord(extra.xsuaa) ? extra.xsuaa : {};
    return { ...extra, xsuaa: { ...xsuaa, ...x509 } };
  }
  return { ...extra, ...x509 };
}

/** A stable fraction in [0, 1) from the uid: certificates issued together renew apart. */
export function uidFraction(uid: string): number {
  return createHash('sha256').update(uid).digest().readUInt32BE(0) / 2 ** 32;
}

/** The renewal time moved earlier by a deterministic, bounded jitter; never before notBefore. */
export function jitteredRenewal(renewAt: Date, notBefore: Date, notAfter: Date, uid: string): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const span = Math.min(lifetime * JITTER_SHARE, MAX_JITTER_MS);
  const at = Math.max(notBefore.getTime(), renewAt.getTime() - Math.floor(span * uidFraction(uid)));
  return new Date(Math.floor(at / 1000) * 1000);
}

/** The CRD says at least 1s; a shorter stored value (0s) only deletes the previous binding at once. */
const ROTATED_BINDING_TTL_BOUNDS = {
  min: 0,
  max: durationConstant(MAX_ROTATED_BINDING_TTL),
  fallback: DEFAULT_ROTATED_BINDING_TTL_MS,
};

export function rotatedBindingTtlMs(cert: BTPCertificate): number {
  return boundedDuration(cert.spec.rotatedBindingTTL, ROTATED_BINDING_TTL_BOUNDS);
}

/** When to try issuing again after `failedAttempts` failures (capped, jittered per resource). */
export function nextRetryTime(now: Date, failedAttempts: number, uid: string): Date {
  return new Date(
    now.getTime() +
      backoffDelay(ISSUE_BACKOFF, failedAttempts, () => uidFraction(`${uid}/${failedAttempts}`)),
  );
}
