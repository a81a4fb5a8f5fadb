// The token check's decisions, pure: whether the credentials in the Secret must be checked now,
// where to ask, and what TokenReady, Ready, status.token and the Events become after a check (or
// without one). The check itself is I/O (src/token/checker.ts); the reconcile shell runs it.
import { ConditionType, isReason } from '../api/conditions.ts';
import { earliest, iso } from '../api/time.ts';
import type { BTPCertificate, BTPCertificateStatus, Condition } from '../api/types.ts';
import type { AccessToken } from '../btp/token-client.ts';
import { backoffDelay } from '../runtime/backoff.ts';
import { trimTrailingSlashes } from '../runtime/text.ts';
import type { CredentialFields } from '../sources/credentials.ts';
import type { TokenFailureReason } from '../token/outcome.ts';
import { uidFraction } from './bindings.ts';
import { type DesiredCondition, findCondition, setCondition } from './conditions.ts';
import { type EventSpec, type Plan, withSummary } from './decide.ts';
import { parseGoDuration } from './duration.ts';

export const CHECK_TOKEN_ANNOTATION = 'btpcerts.io/check-token-requested-at';
export const DEFAULT_CHECK_INTERVAL_MS = 60 * 60_000;
/** Each scheduled check comes up to this share of the interval early, fixed per resource. */
export const CHECK_JITTER_SHARE = 0.1;
/** Failed checks are retried after 10 s, 20 s, ... up to 15 min (never later than the interval). */
export const TOKEN_CHECK_BACKOFF = { baseMs: 10_000, maxMs: 15 * 60_000, jitter: 0.2 } as const;
/** A kept token is refreshed at this share of its lifetime. */
export const TOKEN_REFRESH_SHARE = 2 / 3;

type TokenStatus = NonNullable<BTPCertificateStatus['token']>;

export type TokenCheckResult =
  | { readonly ok: true; readonly tokenUrl: string; readonly token: AccessToken }
  | {
      readonly ok: false;
      readonly tokenUrl: string | undefined;
      readonly reason: TokenFailureReason | 'NoTokenEndpoint' | 'CABundleNotFound';
      readonly message: string;
      readonly retryAfterMs?: number;
    };

/** The token Secret to write: only after a successful check, when spec.token.secretName is set. */
export type TokenSecretWrite = { readonly name: string; readonly token: AccessToken };

export const tokenCheckEnabled = (cert: BTPCertificate): boolean => cert.spec.token?.check !== false;

export function checkIntervalMs(cert: BTPCertificate): number {
  const text = cert.spec.token?.checkInterval;
  return (text === undefined ? undefined : parseGoDuration(text)) ?? DEFAULT_CHECK_INTERVAL_MS;
}

/** Where to ask and as whom: spec.token.url, else the certurl, else the plain url (which will say so). */
export function tokenTarget(
  cert: BTPCertificate,
  fields: CredentialFields,
): { ok: true; tokenUrl: string; clientId: string } | { ok: false; message: string } {
  const base = cert.spec.token?.url ?? fields.certurl ?? fields.url;
  const clientId = fields.clientid;
  if (base === undefined || base === '') {
    return {
      ok: false,
      message:
        'the credentials have neither certurl nor url and spec.token.url is not set: there is no token endpoint to ask',
    };
  }
  if (clientId === undefined || clientId === '')
    return { ok: false, message: 'the credentials have no clientid to ask a token for' };
  return { ok: true, tokenUrl: `${trimTrailingSlashes(base)}/oauth/token`, clientId };
}

export type DueReason = 'new-credentials' | 'spec-changed' | 'requested' | 'scheduled';

/** Whether the credentials with this fingerprint are to be checked now, and why. */
export function tokenCheckDue(cert: BTPCertificate, fingerprint: string, now: Date): DueReason | undefined {
  if (!tokenCheckEnabled(cert)) return undefined;
  const st = cert.status?.token;
  if (st === undefined || st.certificateFingerprint !== fingerprint) return 'new-credentials';
  if (st.observedGeneration !== cert.metadata.generation) return 'spec-changed';
  const requested = cert.metadata.annotations?.[CHECK_TOKEN_ANNOTATION];
  if (requested !== undefined && requested !== '' && requested !== st.lastCheckRequest) return 'requested';
  if (st.nextCheckTime === undefined || new Date(st.nextCheckTime) <= now) return 'scheduled';
  return undefined;
}

/** When to check again after a check that ended in `result`. */
export function nextCheckTime(
  cert: BTPCertificate,
  result: TokenCheckResult,
  failedChecks: number,
  now: Date,
): Date {
  const interval = checkIntervalMs(cert);
  if (result.ok) {
    let next = now.getTime() + interval * (1 - CHECK_JITTER_SHARE * uidFraction(cert.metadata.uid));
    if (cert.spec.token?.secretName !== undefined) {
      const t = result.token;
      const lifetimeMs = t.expiresAt.getTime() - t.obtainedAt.getTime();
      next = Math.min(next, t.obtainedAt.getTime() + lifetimeMs * TOKEN_REFRESH_SHARE);
    }
    return new Date(Math.max(now.getTime() + 1000, Math.floor(next)));
  }
  const backoff = backoffDelay(TOKEN_CHECK_BACKOFF, failedChecks, () =>
    uidFraction(`${cert.metadata.uid}/token/${failedChecks}`),
  );
  const delay = Math.max(Math.min(backoff, interval), result.retryAfterMs ?? 0);
  return new Date(now.getTime() + delay);
}

/**
 * TokenReady, and Ready as it follows from it, for a plan decide() made. `result` is the check
 * run in this reconcile on the credentials of `fingerprint` (the ones the plan writes or keeps);
 * without one, the last check's verdict stands.
 */
export function applyTokenCheck(
  plan: Plan,
  cert: BTPCertificate,
  now: Date,
  check: { readonly fingerprint: string; readonly result: TokenCheckResult } | undefined,
): { plan: Plan; tokenSecret: TokenSecretWrite | undefined } {
  const generation = cert.metadata.generation;
  const previous = cert.status?.token;
  let status = plan.status;
  const events: EventSpec[] = [...plan.events];
  let conditions: Condition[] = [...(status.conditions ?? [])];
  const ready = findCondition(conditions, ConditionType.Ready);

  if (!tokenCheckEnabled(cert)) {
    const { token: _dropped, ...rest } = status;
    conditions = setCondition(
      conditions,
      {
        type: ConditionType.TokenReady,
        status: 'Unknown',
        reason: 'Disabled',
        message: 'spec.token.check is false',
      },
      now,
      generation,
    );
    return { plan: { ...plan, status: { ...rest, conditions } }, tokenSecret: undefined };
  }

  let tokenSecret: TokenSecretWrite | undefined;
  let token: TokenStatus | undefined = previous;
  if (check !== undefined) {
    const { result } = check;
    const failedChecks = result.ok ? 0 : (previous?.failedChecks ?? 0) + 1;
    const requested = cert.metadata.annotations?.[CHECK_TOKEN_ANNOTATION];
    token = {
      lastCheckTime: iso(now),
      ...(result.ok
        ? { lastSuccessTime: iso(now), expiresAt: iso(result.token.expiresAt) }
        : previous?.lastSuccessTime !== undefined && previous.certificateFingerprint === check.fingerprint
          ? { lastSuccessTime: previous.lastSuccessTime }
          : {}),
      nextCheckTime: iso(nextCheckTime(cert, result, failedChecks, now)),
      ...(result.tokenUrl === undefined ? {} : { endpoint: result.tokenUrl }),
      certificateFingerprint: check.fingerprint,
      failedChecks,
      observedGeneration: generation,
      ...(requested ? { lastCheckRequest: requested } : {}),
    };
    const tokenReady: DesiredCondition = result.ok
      ? {
          type: ConditionType.TokenReady,
          status: 'True',
          reason: 'TokenIssued',
          message: `a token was fetched over mTLS from ${result.tokenUrl} (status.token.lastSuccessTime)`,
        }
      : {
          type: ConditionType.TokenReady,
          status: 'False',
          reason: result.reason,
          message: `the token check failed: ${result.message} (retried with backoff, see status.token.nextCheckTime)`,
        };
    const before = findCondition(conditions, ConditionType.TokenReady);
    conditions = setCondition(conditions, tokenReady, now, generation);
    if (before?.status !== tokenReady.status || before.reason !== tokenReady.reason) {
      events.push(
        result.ok
          ? { type: 'Normal', reason: 'TokenIssued', message: `a token was fetched from ${result.tokenUrl}` }
          : { type: 'Warning', reason: result.reason, message: `token check failed: ${result.message}` },
      );
    }
    const name = cert.spec.token?.secretName;
    if (result.ok && name !== undefined) tokenSecret = { name, token: result.token };
  } else if (findCondition(conditions, ConditionType.TokenReady) === undefined) {
    conditions = setCondition(
      conditions,
      {
        type: ConditionType.TokenReady,
        status: 'Unknown',
        reason: 'TokenCheckPending',
        message: 'no credentials were checked yet',
      },
      now,
      generation,
    );
  }

  // Ready needs a token, where the check is on and the credentials themselves are fine.
  const tokenReady = findCondition(conditions, ConditionType.TokenReady);
  if (ready?.status === 'True' && tokenReady?.status === 'False' && isReason(tokenReady.reason)) {
    conditions = withSummary(
      conditions,
      {
        type: ConditionType.Ready,
        status: 'False',
        reason: tokenReady.reason,
        message: `Secret ${cert.spec.secretName} holds credentials valid until ${status.notAfter ?? '?'}, but no token could be fetched with them: ${tokenReady.message}`,
      },
      now,
      generation,
      // A serviceManager source replaces refused credentials by itself: not stalled.
      cert.spec.source.serviceManager !== undefined && isDefinitiveTokenFailure(tokenReady.reason)
        ? false
        : undefined,
    );
  }
  status = { ...status, conditions, ...(token === undefined ? {} : { token }) };
  const next = token?.nextCheckTime === undefined ? undefined : new Date(token.nextCheckTime);
  return { plan: { ...plan, status, events, requeueAt: earliest(plan.requeueAt, next) }, tokenSecret };
}

/** Failures that another try with the same credentials will not cure: a new binding is needed. */
export function isDefinitiveTokenFailure(reason: string): boolean {
  return reason === 'TLSHandshakeFailed' || reason === 'InvalidClient';
}
