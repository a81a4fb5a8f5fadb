// The token gate: TokenReady, status.token, the token Secret and the Events after the check run in
// this reconcile (or without one, where the last verdict stands). Whether the check gates Ready is
// the Ready chain's (./ready.ts). Pure.
import { ConditionType } from '../../api/conditions.ts';
import { iso } from '../../api/time.ts';
import type { BTPCertificate, BTPCertificateStatus } from '../../api/types.ts';
import { type DesiredCondition, findCondition } from '../conditions.ts';
import type { EventSpec, TokenCheck } from '../plan.ts';
import { CHECK_TOKEN_ANNOTATION, nextCheckTime, type TokenSecretWrite, tokenCheckOff } from '../token.ts';

type TokenStatus = NonNullable<BTPCertificateStatus['token']>;

export type TokenGate = {
  /** TokenReady; undefined: it stays as stored. */
  readonly tokenReady: DesiredCondition | undefined;
  /** status.token: 'drop' when the check is off; undefined: as stored. */
  readonly token: TokenStatus | 'drop' | undefined;
  readonly events: readonly EventSpec[];
  readonly tokenSecret: TokenSecretWrite | undefined;
  /** When the next check is due (looked at again then); undefined when the check is off. */
  readonly nextCheckAt: Date | undefined;
};

export function tokenGate(cert: BTPCertificate, check: TokenCheck | undefined, now: Date): TokenGate {
  const off = tokenCheckOff(cert);
  if (off !== undefined) {
    return {
      tokenReady: { type: ConditionType.TokenReady, status: 'Unknown', reason: 'Disabled', message: off },
      token: 'drop',
      events: [],
      tokenSecret: undefined,
      nextCheckAt: undefined,
    };
  }
  const previous = cert.status?.token;
  const stored = findCondition(cert.status?.conditions, ConditionType.TokenReady);
  if (check === undefined) {
    // A check that was due did not run because there are no valid credentials to check: a change of
    // the credentials brings the next look, not a time in the past (that was a requeue per second).
    const scheduled = previous?.nextCheckTime === undefined ? undefined : new Date(previous.nextCheckTime);
    const next = scheduled !== undefined && scheduled > now ? scheduled : undefined;
    return {
      tokenReady:
        stored === undefined
          ? {
              type: ConditionType.TokenReady,
              status: 'Unknown',
              reason: 'TokenCheckPending',
              message: 'no credentials were checked yet',
            }
          : undefined,
      token: undefined,
      events: [],
      tokenSecret: undefined,
      nextCheckAt: next,
    };
  }

  const { result } = check;
  const failedChecks = result.ok ? 0 : (previous?.failedChecks ?? 0) + 1;
  const requested = cert.metadata.annotations?.[CHECK_TOKEN_ANNOTATION];
  const next = nextCheckTime(cert, result, failedChecks, now);
  const token: TokenStatus = {
    lastCheckTime: iso(now),
    ...(result.ok
      ? { lastSuccessTime: iso(now), expiresAt: iso(result.token.expiresAt) }
      : previous?.lastSuccessTime !== undefined && previous.certificateFingerprint === check.fingerprint
        ? { lastSuccessTime: previous.lastSuccessTime }
        : {}),
    nextCheckTime: iso(next),
    ...(result.tokenUrl === undefined ? {} : { endpoint: result.tokenUrl }),
    certificateFingerprint: check.fingerprint,
    failedChecks,
    observedGeneration: cert.metadata.generation,
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
  const events: EventSpec[] = [];
  if (stored?.status !== tokenReady.status || stored.reason !== tokenReady.reason) {
    events.push(
      result.ok
        ? { type: 'Normal', reason: 'TokenIssued', message: `a token was fetched from ${result.tokenUrl}` }
        : { type: 'Warning', reason: result.reason, message: `token check failed: ${result.message}` },
    );
  }
  const name = cert.spec.token?.secretName;
  return {
    tokenReady,
    token,
    events,
    tokenSecret: result.ok && name !== undefined ? { name, token: result.token } : undefined,
    // iso() truncates to whole seconds: look again at the time status records.
    nextCheckAt: new Date(iso(next)),
  };
}
