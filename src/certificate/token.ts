// The token check's decisions, pure: whether the credentials in the Secret must be checked now,
// where to ask, when to check again. What a check's result makes of TokenReady, status.token and
// the Events is the token gate (./policies/token-gate.ts); the check itself is I/O
// (src/token/checker.ts), run by gather.
import { DEFAULTS, MAX_CHECK_INTERVAL, MIN_CHECK_INTERVAL } from '../api/schema.ts';
import type { BTPCertificate } from '../api/types.ts';
import type { AccessToken } from '../btp/token-client.ts';
import { backoffDelay } from '../runtime/backoff.ts';
import { trimTrailingSlashes } from '../runtime/text.ts';
import type { CredentialFields } from '../sources/credentials.ts';
import type { TokenFailureReason } from '../token/outcome.ts';
import { uidFraction } from './bindings.ts';
import { boundedDuration, durationConstant } from './duration.ts';

export const CHECK_TOKEN_ANNOTATION = 'btpcerts.io/check-token-requested-at';
export const DEFAULT_CHECK_INTERVAL_MS = durationConstant(DEFAULTS.checkInterval);
/** Each scheduled check comes up to this share of the interval early, fixed per resource. */
export const CHECK_JITTER_SHARE = 0.1;
/** Failed checks are retried after 10 s, 20 s, ... up to 15 min (never later than the interval). */
export const TOKEN_CHECK_BACKOFF = { baseMs: 10_000, maxMs: 15 * 60_000, jitter: 0.2 } as const;
/** A kept token is refreshed at this share of its lifetime. */
export const TOKEN_REFRESH_SHARE = 2 / 3;

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

/**
 * Why no token check runs for this certificate (TokenReady Disabled says it), or undefined when it
 * does: the check is off, or the source is a certificate stored in the Destination service, which
 * names no token endpoint and no client (ADR 0012): there is nothing to ask, and its proof is
 * validation. With spec.token.url it is checked, and refused for want of a client id (tokenTarget).
 */
export function tokenCheckOff(cert: BTPCertificate): string | undefined {
  if (cert.spec.token?.check === false) return 'spec.token.check is false';
  if (cert.spec.source.destination?.certificateName !== undefined && cert.spec.token?.url === undefined) {
    return 'the token check does not apply: a certificate stored in the Destination service (source.destination.certificateName) names no token endpoint and no client; Ready needs valid credentials only';
  }
  return undefined;
}

export const tokenCheckEnabled = (cert: BTPCertificate): boolean => tokenCheckOff(cert) === undefined;

/**
 * The CRD's minimum, also applied to objects stored before the CRD had it: a check is a request to
 * a URL the namespace chooses, which may hold a worker until the check's timeout.
 */
export const MIN_CHECK_INTERVAL_MS = durationConstant(MIN_CHECK_INTERVAL);

const CHECK_INTERVAL_BOUNDS = {
  min: MIN_CHECK_INTERVAL_MS,
  max: durationConstant(MAX_CHECK_INTERVAL),
  fallback: DEFAULT_CHECK_INTERVAL_MS,
};

export function checkIntervalMs(cert: BTPCertificate): number {
  return boundedDuration(cert.spec.token?.checkInterval, CHECK_INTERVAL_BOUNDS);
}

/**
 * The URL the token check starts from, and what it is called in messages: spec.token.url; for a
 * destination (source.destination.destinationName) its tokenServiceURL, a whole token URL; else the
 * certurl, else the plain url.
 */
export function tokenBase(
  cert: BTPCertificate,
  fields: CredentialFields,
): { readonly base: string | undefined; readonly what: string; readonly whole: boolean } {
  if (cert.spec.token?.url !== undefined)
    return { base: cert.spec.token.url, what: 'spec.token.url', whole: false };
  if (cert.spec.source.destination?.destinationName !== undefined)
    return { base: fields.tokenServiceURL, what: "the destination's tokenServiceURL", whole: true };
  if (fields.certurl !== undefined)
    return { base: fields.certurl, what: "the credentials' certurl", whole: false };
  return { base: fields.url, what: "the credentials' url", whole: false };
}

/**
 * Where to ask and as whom: spec.token.url, else the certurl, else the plain url (which will say
 * so); a destination's tokenServiceURL as it is, with its clientId (the other tenant's XSUAA).
 */
export function tokenTarget(
  cert: BTPCertificate,
  fields: CredentialFields,
): { ok: true; tokenUrl: string; clientId: string } | { ok: false; message: string } {
  const { base, what, whole } = tokenBase(cert, fields);
  const destination = cert.spec.source.destination?.destinationName !== undefined;
  if (destination && (base === undefined || base === '')) {
    return {
      ok: false,
      message:
        'the destination has no tokenServiceURL (it is not OAuth2ClientCredentials) and spec.token.url is not set: there is no token endpoint to ask',
    };
  }
  if (cert.spec.source.destination?.certificateName !== undefined) {
    return {
      ok: false,
      message:
        'a certificate stored in the Destination service comes with no client id to ask spec.token.url for a token with: remove spec.token.url',
    };
  }
  const clientId = destination ? fields.clientId : fields.clientid;
  if (base === undefined || base === '') {
    return {
      ok: false,
      message:
        'the credentials have neither certurl nor url and spec.token.url is not set: there is no token endpoint to ask',
    };
  }
  if (!isPlainHttpsUrl(base)) {
    // The value is not shown: a user part or a query may hold a password.
    return {
      ok: false,
      message: `${what} is not a plain https URL (https://host[:port][/path], without a user, query or fragment); it is not shown`,
    };
  }
  if (clientId === undefined || clientId === '')
    return { ok: false, message: 'the credentials have no clientid to ask a token for' };
  return { ok: true, tokenUrl: whole ? base : `${trimTrailingSlashes(base)}/oauth/token`, clientId };
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

/** Failures that another try with the same credentials will not cure: a new binding is needed. */
export function isDefinitiveTokenFailure(reason: string): boolean {
  return reason === 'TLSHandshakeFailed' || reason === 'InvalidClient';
}

/** An endpoint and nothing else: the token URL is shown in status, so nothing secret may ride in it. */
function isPlainHttpsUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (
    url.protocol === 'https:' &&
    url.username === '' &&
    url.password === '' &&
    url.search === '' &&
    url.hash === '' &&
    !/[?#@\s]/.test(text)
  );
}
