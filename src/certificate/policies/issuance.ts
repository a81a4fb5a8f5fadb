// The serviceManager source's chains. Candidate choice (before readiness): a new binding whose
// token check failed while a working binding exists does not become current. Settlement (after
// readiness): a validated candidate becomes current and the previous binding is retired; a failure
// is recorded with its backoff; a renewal that failed keeps saying why while it backs off. Pure.
import type { Reason } from '../../api/conditions.ts';
import { iso } from '../../api/time.ts';
import type { BTPCertificate, BTPCertificateStatus, Condition } from '../../api/types.ts';
import type { X509Credentials } from '../../sources/credentials.ts';
import {
  type BindingRef,
  nextRetryTime,
  RENEW_ANNOTATION,
  type RetiredBinding,
  rotatedBindingTtlMs,
} from '../bindings.ts';
import type { DesiredCondition } from '../conditions.ts';
import type { EventSpec, Observed, SourceObservation } from '../plan.ts';
import { isDefinitiveTokenFailure } from '../token.ts';

export type SmFailure = { readonly reason: Reason; readonly message: string; readonly stalls: boolean };

/** What the issuance step of a serviceManager source did (gather). */
export type Issuance =
  /** No Service Manager client: the access is missing or unusable (the source says why). */
  | { readonly kind: 'no-access' }
  /** A client, and nothing to serve or issue now (the source says why); no new failure. */
  | { readonly kind: 'unusable' }
  /** Issuing failed and there is nothing current to serve. */
  | { readonly kind: 'failed'; readonly failure: SmFailure }
  /** The current binding is served; no new one was wanted (or the backoff holds). */
  | { readonly kind: 'current'; readonly binding: BindingRef }
  /** Renewal was wanted and failed; the current binding is served. */
  | { readonly kind: 'kept'; readonly binding: BindingRef; readonly failure: SmFailure }
  /** A binding created (or found) for a new revision: it becomes current once its credentials pass. */
  | {
      readonly kind: 'candidate';
      readonly binding: BindingRef;
      /** The binding it replaces, with its credentials, kept if the candidate fails its token check. */
      readonly replaces: { readonly binding: BindingRef; readonly credentials: X509Credentials } | undefined;
    };

/** The source observation of a binding that is served. */
export function servedSource(description: string, binding: BindingRef, credentials: X509Credentials) {
  return {
    ok: true,
    description,
    revision: `${binding.id}@r${binding.revision}`,
    credentials,
    renewal: { kind: 'service-manager' },
  } as const satisfies SourceObservation;
}

/**
 * Candidate choice. A candidate whose token check failed, with a working binding to fall back to,
 * is held back: the current binding's credentials are decided on, the failure goes to the renewal
 * and its backoff, and the candidate is deleted if the refusal is definitive (it was never handed
 * out); one that met a passing trouble is adopted and checked again by the next attempt. A first
 * binding has nothing to fall back to and is decided on as it is.
 */
export function chooseCredentials(o: Observed): { readonly subject: Observed; readonly deletes: string[] } {
  const issuance = o.issuance;
  const check = o.tokenCheck;
  if (issuance?.kind !== 'candidate' || check === undefined || check.result.ok) {
    return { subject: o, deletes: [] };
  }
  const kept = issuance.replaces;
  if (kept === undefined) return { subject: o, deletes: [] };
  const refused = issuance.binding;
  const { tokenCheck: _checked, ...rest } = o;
  return {
    subject: {
      ...rest,
      source: servedSource(o.source.description, kept.binding, kept.credentials),
      issuance: {
        kind: 'kept',
        binding: kept.binding,
        failure: {
          reason: check.result.reason,
          message: `the new binding ${refused.name} failed the token check, ${kept.binding.name} stays current: ${check.result.message}`,
          stalls: false,
        },
      },
    },
    deletes: isDefinitiveTokenFailure(check.result.reason) ? [refused.id] : [],
  };
}

export type Settlement = {
  readonly status: BTPCertificateStatus;
  /** Renewal as the settlement has it: a failure, the stored one kept, or undefined (the trigger's). */
  readonly renewal: DesiredCondition | Condition | undefined;
  readonly events: readonly EventSpec[];
  /** A candidate that never became current, to delete. */
  readonly deletes: readonly string[];
  /** Whether a candidate became current. */
  readonly promoted: boolean;
  /** Times to look again: the next retry, the retired bindings' deletion times. */
  readonly recheck: readonly Date[];
};

/** Settlement of what the issuance step did, for credentials that passed readiness or not. */
export function settleIssuance(
  cert: BTPCertificate,
  issuance: Issuance | undefined,
  credentialsReady: boolean,
  statusSoFar: BTPCertificateStatus,
  now: Date,
): Settlement {
  const previous = cert.status ?? {};
  let status = statusSoFar;
  let renewal: Settlement['renewal'];
  const events: EventSpec[] = [];
  const deletes: string[] = [];
  let promoted = false;
  let failure: { readonly failure: SmFailure | undefined; readonly renewalOnly: boolean } | undefined;

  if (issuance?.kind === 'candidate') {
    if (credentialsReady) {
      promoted = true;
      const old = previous.binding;
      const retired: RetiredBinding[] = [...(previous.retiredBindings ?? [])];
      if (old !== undefined && old.id !== issuance.binding.id) {
        retired.push({ ...old, deleteAfter: iso(new Date(now.getTime() + rotatedBindingTtlMs(cert))) });
      }
      const renewRequest = cert.metadata.annotations?.[RENEW_ANNOTATION];
      const { failedAttempts: _a, lastFailureTime: _l, nextRetryTime: _n, ...rest } = status;
      status = {
        ...rest,
        binding: issuance.binding,
        retiredBindings: retired,
        ...(renewRequest ? { lastRenewRequest: renewRequest } : {}),
      };
      if (old !== undefined) {
        events.push({
          type: 'Normal',
          reason: 'Rotated',
          message: `binding ${issuance.binding.name} is current; ${old.name} is retired until ${retired.at(-1)?.deleteAfter}`,
        });
      }
    } else {
      // New credentials that failed validation never become current.
      deletes.push(issuance.binding.id);
      failure = { failure: undefined, renewalOnly: false };
    }
  } else if (issuance?.kind === 'kept') {
    failure = { failure: issuance.failure, renewalOnly: true };
  } else if (issuance?.kind === 'failed') {
    failure = { failure: issuance.failure, renewalOnly: false };
  }

  if (failure !== undefined) {
    const attempts = (previous.failedAttempts ?? 0) + 1;
    const retryAt = nextRetryTime(now, attempts, cert.metadata.uid);
    status = { ...status, failedAttempts: attempts, lastFailureTime: iso(now), nextRetryTime: iso(retryAt) };
    if (failure.renewalOnly && failure.failure !== undefined) {
      renewal = {
        type: 'Renewal',
        status: 'False',
        reason: failure.failure.reason,
        message: `renewal failed: ${failure.failure.message}; retried with backoff (status.nextRetryTime)`,
      };
      events.push({
        type: 'Warning',
        reason: failure.failure.reason,
        message: `renewal failed: ${failure.failure.message}`,
      });
    }
  } else if (issuance !== undefined && issuance.kind !== 'candidate') {
    // While a failed renewal backs off, Renewal keeps saying why: the credentials served are
    // fine, and the trigger alone would call the renewal not due.
    const failedBefore = previous.conditions?.find((c) => c.type === 'Renewal');
    if (
      (status.failedAttempts ?? 0) > 0 &&
      status.nextRetryTime !== undefined &&
      new Date(status.nextRetryTime) > now &&
      failedBefore?.status === 'False' &&
      failedBefore.reason !== 'NotDue'
    ) {
      renewal = failedBefore;
    }
  }

  // A backoff in force always brings the next attempt back, whatever woke this reconcile: the
  // queue keeps only the latest run's schedule.
  const recheck: Date[] = [];
  if (issuance !== undefined) {
    if (status.nextRetryTime !== undefined && new Date(status.nextRetryTime) > now) {
      recheck.push(new Date(status.nextRetryTime));
    }
    for (const r of status.retiredBindings ?? []) recheck.push(new Date(r.deleteAfter));
  }
  return { status, renewal, events, deletes, promoted, recheck };
}

/** Retired bindings whose time has come (deleted only where there is a client). */
export function retiredDue(issuance: Issuance | undefined, status: BTPCertificateStatus, now: Date) {
  if (issuance === undefined || issuance.kind === 'no-access') return [];
  return (status.retiredBindings ?? []).filter((r) => !(new Date(r.deleteAfter) > now));
}
