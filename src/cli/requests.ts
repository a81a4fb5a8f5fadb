// `kubectl btpcert renew` and `check-token`: set the request annotation to a new value, then (with
// --wait) watch the status until the operator says it acted on that value, and report the outcome.
// Whether a request was handled, and how it ended, is read from status only (outcomeOf: pure):
//   renew        status.lastRenewRequest equals the value: the new binding is current. A failed
//                attempt after the request (status.lastFailureTime moved) ends it as failed.
//   check-token  status.token.lastCheckRequest equals the value: TokenReady is that check's result.

import type { BTPCertificate, Condition } from '../api/types.ts';
import { RENEW_ANNOTATION } from '../certificate/bindings.ts';
import { CHECK_TOKEN_ANNOTATION, tokenCheckOff } from '../certificate/token.ts';
import type { RequestKind, Selection } from './args.ts';
import { printable } from './format.ts';

export const ANNOTATIONS: Readonly<Record<RequestKind, string>> = {
  renew: RENEW_ANNOTATION,
  'check-token': CHECK_TOKEN_ANNOTATION,
};

export type Outcome =
  | { readonly state: 'pending' }
  | { readonly state: 'succeeded'; readonly reason: string; readonly message: string }
  | { readonly state: 'failed'; readonly reason: string; readonly message: string };

export type RequestResult = {
  readonly namespace: string;
  readonly name: string;
  readonly annotation: string;
  /** The value set; absent when the request was not made. */
  readonly value?: string;
  readonly outcome: 'Succeeded' | 'Failed' | 'Requested' | 'Skipped' | 'TimedOut' | 'Gone';
  readonly reason?: string;
  readonly message: string;
};

const condition = (cert: BTPCertificate, type: string): Condition | undefined =>
  cert.status?.conditions?.find((c) => c.type === type);

/** Why the operator would never act on this request, or undefined when it would. */
export function refusal(kind: RequestKind, cert: BTPCertificate): string | undefined {
  if (cert.metadata.deletionTimestamp !== undefined) return 'it is being deleted';
  const { serviceBinding, destination, serviceManager } = cert.spec.source;
  if (kind === 'renew' && serviceManager === undefined) {
    const instead =
      serviceBinding !== undefined
        ? 'a serviceBinding source renews when its ServiceBinding rotates (the operator asks it with services.cloud.sap.com/forceRotate when renewal is due)'
        : destination !== undefined
          ? 'a destination source is read again from the Destination service every hour and at its renewal time; renew the certificate there'
          : 'a Secret source is renewed by whoever writes that Secret';
    return `${RENEW_ANNOTATION} is acted on for serviceManager sources only; ${instead}`;
  }
  const off = tokenCheckOff(cert);
  if (kind === 'check-token' && off !== undefined) {
    return cert.spec.token?.check === false ? 'the token check is off (spec.token.check: false)' : off;
  }
  return undefined;
}

/**
 * How the request stands in `now`, given the object as the request's own write returned it
 * (`requested`): the status then is the baseline a later failed attempt is told apart by.
 */
export function outcomeOf(
  kind: RequestKind,
  requested: BTPCertificate,
  now: BTPCertificate,
  value: string,
): Outcome {
  const st = now.status ?? {};
  if (kind === 'check-token') {
    if (st.token?.lastCheckRequest !== value) return { state: 'pending' };
    const token = condition(now, 'TokenReady');
    if (token?.status === 'True') {
      const expires = st.token.expiresAt ? ` (the token expires ${st.token.expiresAt})` : '';
      return { state: 'succeeded', reason: token.reason, message: `${token.message}${expires}` };
    }
    return {
      state: 'failed',
      reason: token?.reason ?? 'Unknown',
      message: token?.message ?? 'the check ran but TokenReady is not reported',
    };
  }
  if (st.lastRenewRequest === value) {
    const b = st.binding;
    const binding = b ? `binding ${b.name} (revision ${b.revision}) is current; ` : '';
    return {
      state: 'succeeded',
      reason: 'Renewed',
      message: `${binding}certificate ${st.sha256Fingerprint ?? '?'}, not after ${st.notAfter ?? '?'}`,
    };
  }
  if (st.lastFailureTime !== undefined && st.lastFailureTime !== requested.status?.lastFailureTime) {
    const renewal = condition(now, 'Renewal');
    const ready = condition(now, 'Ready');
    const why =
      renewal?.status === 'False' && renewal.reason !== 'NotDue'
        ? renewal
        : ready?.status === 'False'
          ? ready
          : undefined;
    const retry = st.nextRetryTime ? `; the operator tries again at ${st.nextRetryTime}` : '';
    return {
      state: 'failed',
      reason: why?.reason ?? 'RenewalFailed',
      message: `${why?.message ?? `an attempt failed (status.failedAttempts ${st.failedAttempts ?? '?'}); see kubectl btpcert status and its Events`}${retry}`,
    };
  }
  return { state: 'pending' };
}

/** A renewal just requested that a failed attempt's backoff holds back, and until when. */
export function backoffNote(kind: RequestKind, requested: BTPCertificate, now: Date): string | undefined {
  const st = requested.status;
  if (kind !== 'renew' || !st?.failedAttempts || st.nextRetryTime === undefined) return undefined;
  if (!(Date.parse(st.nextRetryTime) > now.getTime())) return undefined;
  return `a failed attempt holds the next one until ${st.nextRetryTime} (status.nextRetryTime); waiting for it`;
}

/** What the wait polls: the selector that finds the pending objects again. */
export function labelSelectorOf(selection: Selection): string | undefined {
  return selection.kind === 'selector' ? selection.selector : undefined;
}

/** One line about a request's outcome, with nothing in it a terminal acts on. */
export const resultLine = (kind: RequestKind, r: RequestResult, withNamespace: boolean): string =>
  printable(rawResultLine(kind, r, withNamespace));

const rawResultLine = (kind: RequestKind, r: RequestResult, withNamespace: boolean): string => {
  const object = `btpcertificate.btpcerts.io/${r.name}${withNamespace ? ` (namespace ${r.namespace})` : ''}`;
  const what = kind === 'renew' ? 'renewal' : 'token check';
  switch (r.outcome) {
    case 'Requested':
      return `${object} ${what} requested (${r.annotation}=${r.value})`;
    case 'Succeeded':
      return kind === 'renew'
        ? `${object} renewed: ${r.message}`
        : `${object} token check passed (${r.reason}): ${r.message}`;
    case 'Failed':
      return `${object} ${what} failed (${r.reason}): ${r.message}`;
    case 'Skipped':
      return `${object} skipped: ${r.message}`;
    case 'Gone':
      return `${object} was deleted before the operator handled ${r.annotation}=${r.value}`;
    case 'TimedOut':
      return `${object} ${r.message}`;
  }
};
