// `kubectl btpcert status NAME`: the one screen an admin needs when something is wrong. The view is
// plain data taken from the object and its Events (also what -o json|yaml prints); the text is a
// pure function of the view and the time.

import { ConditionType } from '../api/conditions.ts';
import type { BTPCertificate, BTPCertificateSpec } from '../api/types.ts';
import { RENEW_ANNOTATION } from '../certificate/bindings.ts';
import { CHECK_TOKEN_ANNOTATION, tokenCheckEnabled } from '../certificate/token.ts';
import type { EventView } from './client.ts';
import { fields, printable, shortDuration, table, when } from './format.ts';

/** How many Events `status` shows, the most recent. */
export const MAX_EVENTS = 20;

const CONDITION_ORDER: readonly string[] = [
  ConditionType.Ready,
  ConditionType.TokenReady,
  ConditionType.Renewal,
  ConditionType.Reconciling,
  ConditionType.Stalled,
];

export type StatusView = {
  readonly namespace: string;
  readonly name: string;
  readonly secretName: string;
  readonly source: string;
  readonly sourceRevision: string | undefined;
  readonly generation: number;
  readonly observedGeneration: number | undefined;
  readonly conditions: readonly {
    readonly type: string;
    readonly status: string;
    readonly reason: string;
    readonly message: string;
    readonly lastTransitionTime: string;
  }[];
  readonly certificate:
    | {
        readonly subject: string | undefined;
        readonly issuer: string | undefined;
        readonly serialNumber: string | undefined;
        readonly notBefore: string | undefined;
        readonly notAfter: string | undefined;
        readonly renewalTime: string | undefined;
        readonly sha256Fingerprint: string | undefined;
      }
    | undefined;
  readonly renewal: {
    readonly requested: string | undefined;
    readonly lastRenewRequest: string | undefined;
    readonly lastRotationRequestTime: string | undefined;
    readonly failedAttempts: number | undefined;
    readonly lastFailureTime: string | undefined;
    readonly nextRetryTime: string | undefined;
  };
  readonly bindings:
    | {
        readonly current:
          | { readonly id: string; readonly name: string; readonly revision: number }
          | undefined;
        readonly retired: readonly {
          readonly id: string;
          readonly name: string;
          readonly revision: number;
          readonly deleteAfter: string;
        }[];
      }
    | undefined;
  readonly token: {
    readonly check: boolean;
    readonly requested: string | undefined;
    readonly lastCheckRequest: string | undefined;
    readonly lastCheckTime: string | undefined;
    readonly lastSuccessTime: string | undefined;
    readonly expiresAt: string | undefined;
    readonly nextCheckTime: string | undefined;
    readonly endpoint: string | undefined;
    readonly failedChecks: number | undefined;
  };
  readonly events: readonly EventView[];
  /** Events older than the ones shown. */
  readonly olderEvents: number;
  /** Why the Events could not be read (RBAC, say); the rest is shown all the same. */
  readonly eventsError?: string;
};

/** The source as status names it, or as the spec says when nothing was read yet. */
export function describeSource(spec: BTPCertificateSpec): string {
  const { serviceBinding, secret, serviceManager, destination } = spec.source;
  if (serviceBinding) return `ServiceBinding/${serviceBinding.name}`;
  if (destination) {
    return destination.destinationName !== undefined
      ? `Destination/${destination.destinationName}`
      : `Destination/certificate ${destination.certificateName ?? '?'}`;
  }
  if (secret) return `Secret/${secret.name}${secret.key ? ` (key ${secret.key})` : ''}`;
  if (serviceManager) {
    const instance = serviceManager.serviceInstanceName ?? serviceManager.serviceInstanceID ?? '?';
    return `ServiceManager/${instance}`;
  }
  return '-';
}

export function statusView(
  cert: BTPCertificate,
  events: readonly EventView[],
  eventsError?: string,
): StatusView {
  const st = cert.status ?? {};
  const annotations = cert.metadata.annotations ?? {};
  const rank = (type: string) => {
    const i = CONDITION_ORDER.indexOf(type);
    return i === -1 ? CONDITION_ORDER.length : i;
  };
  const conditions = [...(st.conditions ?? [])]
    .sort((a, b) => rank(a.type) - rank(b.type))
    .map((c) => ({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      lastTransitionTime: c.lastTransitionTime,
    }));
  const hasCertificate = st.notAfter !== undefined || st.sha256Fingerprint !== undefined;
  const recent = events.slice(-MAX_EVENTS);
  return {
    namespace: cert.metadata.namespace,
    name: cert.metadata.name,
    secretName: cert.spec.secretName,
    source: st.source ?? describeSource(cert.spec),
    sourceRevision: st.sourceRevision,
    generation: cert.metadata.generation,
    observedGeneration: st.observedGeneration,
    conditions,
    certificate: hasCertificate
      ? {
          subject: st.subject,
          issuer: st.issuer,
          serialNumber: st.serialNumber,
          notBefore: st.notBefore,
          notAfter: st.notAfter,
          renewalTime: st.renewalTime,
          sha256Fingerprint: st.sha256Fingerprint,
        }
      : undefined,
    renewal: {
      requested: annotations[RENEW_ANNOTATION],
      lastRenewRequest: st.lastRenewRequest,
      lastRotationRequestTime: st.lastRotationRequestTime,
      failedAttempts: st.failedAttempts,
      lastFailureTime: st.lastFailureTime,
      nextRetryTime: st.nextRetryTime,
    },
    bindings:
      cert.spec.source.serviceManager !== undefined
        ? { current: st.binding, retired: st.retiredBindings ?? [] }
        : undefined,
    token: {
      check: tokenCheckEnabled(cert),
      requested: annotations[CHECK_TOKEN_ANNOTATION],
      lastCheckRequest: st.token?.lastCheckRequest,
      lastCheckTime: st.token?.lastCheckTime,
      lastSuccessTime: st.token?.lastSuccessTime,
      expiresAt: st.token?.expiresAt,
      nextCheckTime: st.token?.nextCheckTime,
      endpoint: st.token?.endpoint,
      failedChecks: st.token?.failedChecks,
    },
    events: recent,
    olderEvents: events.length - recent.length,
    ...(eventsError === undefined ? {} : { eventsError }),
  };
}

/** A request annotation and whether the operator has handled its value. */
function request(requested: string | undefined, handled: string | undefined): string | undefined {
  if (requested === undefined) return undefined;
  return requested === handled ? `${requested} (handled)` : `${requested} (not handled yet)`;
}

export function formatStatus(view: StatusView, now: Date): string {
  const lines: string[] = [];
  const generation =
    view.observedGeneration === view.generation
      ? `${view.generation} (observed)`
      : `${view.generation} (status is of generation ${view.observedGeneration ?? 'none'}: the operator has not seen the latest spec yet)`;
  lines.push(
    ...fields([
      ['Name', view.name],
      ['Namespace', view.namespace],
      ['Secret', view.secretName],
      ['Source', view.sourceRevision ? `${view.source} (revision ${view.sourceRevision})` : view.source],
      ['Generation', generation],
    ]),
  );

  lines.push('', 'Conditions:');
  if (view.conditions.length === 0) lines.push('  <none>: the operator has not reported on it yet');
  else {
    lines.push(
      ...table(
        [
          ['TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
          ...view.conditions.map((c) => [
            c.type,
            c.status,
            c.reason,
            shortDuration(now.getTime() - Date.parse(c.lastTransitionTime)),
            c.message,
          ]),
        ],
        '  ',
      ),
    );
  }

  lines.push('', 'Certificate:');
  const c = view.certificate;
  if (c === undefined) lines.push('  <none>: no credentials were written yet');
  else {
    lines.push(
      ...fields(
        [
          ['Subject', c.subject],
          ['Issuer', c.issuer],
          ['Serial', c.serialNumber],
          ['Not before', c.notBefore && when(c.notBefore, now)],
          ['Not after', c.notAfter && when(c.notAfter, now)],
          ['Renewal', c.renewalTime && when(c.renewalTime, now)],
          ['SHA-256', c.sha256Fingerprint],
        ],
        '  ',
      ),
    );
  }

  const r = view.renewal;
  const renewal = fields(
    [
      ['Requested', request(r.requested, r.lastRenewRequest)],
      ['Last rotation request', r.lastRotationRequestTime && when(r.lastRotationRequestTime, now)],
      ['Failed attempts', r.failedAttempts ? String(r.failedAttempts) : undefined],
      ['Last failure', r.failedAttempts ? r.lastFailureTime && when(r.lastFailureTime, now) : undefined],
      ['Next retry', r.failedAttempts ? r.nextRetryTime && when(r.nextRetryTime, now) : undefined],
    ],
    '  ',
  );
  if (renewal.length > 0) lines.push('', 'Renewal:', ...renewal);

  if (view.bindings !== undefined) {
    const { current, retired } = view.bindings;
    lines.push('', 'Bindings:');
    const rows: string[][] = [['', 'NAME', 'REVISION', 'ID', 'DELETE AFTER']];
    if (current !== undefined)
      rows.push(['current', current.name, String(current.revision), current.id, '-']);
    for (const b of retired)
      rows.push(['retired', b.name, String(b.revision), b.id, when(b.deleteAfter, now)]);
    if (rows.length === 1) lines.push('  <none>');
    else lines.push(...table(rows, '  '));
  }

  const t = view.token;
  lines.push('', 'Token check:');
  if (!t.check) lines.push('  off (spec.token.check: false)');
  else if (t.lastCheckTime === undefined && t.requested === undefined) lines.push('  not checked yet');
  else {
    lines.push(
      ...fields(
        [
          ['Last check', t.lastCheckTime && when(t.lastCheckTime, now)],
          ['Last success', t.lastSuccessTime && when(t.lastSuccessTime, now)],
          ['Token expires', t.expiresAt && when(t.expiresAt, now)],
          ['Next check', t.nextCheckTime && when(t.nextCheckTime, now)],
          ['Endpoint', t.endpoint],
          ['Failed checks', t.failedChecks ? String(t.failedChecks) : undefined],
          ['Requested', request(t.requested, t.lastCheckRequest)],
        ],
        '  ',
      ),
    );
  }

  lines.push('', 'Events:');
  if (view.eventsError !== undefined) lines.push(`  <not shown: ${printable(view.eventsError)}>`);
  else if (view.events.length === 0) lines.push('  <none>');
  else {
    if (view.olderEvents > 0) lines.push(`  (${view.olderEvents} older not shown)`);
    lines.push(
      ...table(
        [
          ['TYPE', 'REASON', 'AGE', 'COUNT', 'MESSAGE'],
          ...view.events.map((e) => [
            e.type,
            e.reason,
            e.lastTimestamp === undefined ? '-' : shortDuration(now.getTime() - Date.parse(e.lastTimestamp)),
            String(e.count),
            e.message,
          ]),
        ],
        '  ',
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
