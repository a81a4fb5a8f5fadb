// Client-credentials tokens from XSUAA (btp.md §3), in the two ways a credential allows:
// - x509: `POST {certurl}/oauth/token` with `grant_type=client_credentials&client_id=...`; the
//   certificate and key go into the TLS handshake, no secret is sent;
// - client secret: `POST {url}/oauth/token` with the secret in the form body (the default) or as
//   HTTP Basic (RFC 6749 §2.3.1: id and secret form-encoded first).
// A token is opaque to us: it lives in a Secret (secret.ts) and is never logged.
import type { Clock } from '../runtime/clock.ts';
import { errorForStatus, unexpectedBody } from './api-error.ts';
import { BtpError } from './errors.ts';
import type { BtpHttp, BtpResponse, ClientIdentity } from './http.ts';
import { isRecord, nonEmptyString, optionalString } from './parse.ts';
import { type RetryPolicy, resolveRetryPolicy, withRetry } from './retry.ts';
import { Secret } from './secret.ts';

interface CredentialBase {
  /** The full token endpoint: `{url}/oauth/token` for a secret, `{certurl}/oauth/token` for x509. */
  readonly tokenUrl: string;
  readonly clientId: string;
}

export interface SecretTokenCredential extends CredentialBase {
  readonly clientSecret: string;
  /** Where the secret goes: the form body (default) or an HTTP Basic header. */
  readonly secretIn?: 'body' | 'basic';
}

export interface X509TokenCredential extends CredentialBase {
  /** PEM chain, leaf first. */
  readonly certificate: string;
  /** PEM private key. */
  readonly key: string;
}

export type TokenCredential = SecretTokenCredential | X509TokenCredential;

export function isX509Credential(credential: TokenCredential): credential is X509TokenCredential {
  return 'certificate' in credential;
}

export interface AccessToken {
  /** Opaque; `reveal()` only for the Authorization header. */
  readonly accessToken: Secret;
  readonly tokenType: string;
  /** When we asked for it (the lifetime counts from here, to be safe). */
  readonly obtainedAt: Date;
  readonly expiresAt: Date;
  readonly expiresInSeconds: number;
  readonly scope: string | undefined;
}

export interface TokenClientOptions {
  readonly http: BtpHttp;
  readonly clock: Clock;
  /** For backoff jitter; Math.random when absent. */
  readonly random?: () => number;
  readonly retry?: Partial<RetryPolicy>;
  /** Awaited before each retry (not the first attempt), e.g. a rate limiter's turn. */
  readonly beforeRetry?: () => Promise<void>;
}

export interface FetchTokenOptions {
  /** Pool owner in BtpHttp (`close(credentialId)`); `xsuaa:<clientId>` when absent. */
  readonly credentialId?: string;
  /** Overall budget of this fetch, retries included; the retry policy's when absent. */
  readonly deadlineMs?: number;
  /** More CA certificates (PEM) to trust for this endpoint. */
  readonly caPem?: string;
}

const OPERATION = 'xsuaa.token';
const UNSUPPORTED_CREDENTIAL = /unsupported instance credential/i;

/** RFC 6749 Appendix B: application/x-www-form-urlencoded, as used inside a Basic header. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

export function tokenUrlOf(credential: TokenCredential): URL {
  let url: URL;
  try {
    url = new URL(credential.tokenUrl);
  } catch {
    throw new BtpError('BtpBadRequest', 'the token URL of the credential is not a valid URL');
  }
  if (url.protocol !== 'https:') {
    throw new BtpError('BtpBadRequest', `the token URL of the credential must be https, not ${url.protocol}`);
  }
  return url;
}

/** The strings an error text must never contain for this credential. */
export function credentialSecrets(credential: TokenCredential): string[] {
  return isX509Credential(credential) ? [credential.certificate, credential.key] : [credential.clientSecret];
}

export class TokenClient {
  readonly #http: BtpHttp;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #retry: RetryPolicy;
  readonly #beforeRetry: (() => Promise<void>) | undefined;

  constructor(options: TokenClientOptions) {
    this.#beforeRetry = options.beforeRetry;
    this.#http = options.http;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.#retry = resolveRetryPolicy(options.retry);
  }

  /** A new token (no caching: see TokenCache), through the retry policy. */
  async fetchToken(credential: TokenCredential, options: FetchTokenOptions = {}): Promise<AccessToken> {
    const url = tokenUrlOf(credential);
    const policy =
      options.deadlineMs === undefined ? this.#retry : { ...this.#retry, deadlineMs: options.deadlineMs };
    const credentialId = options.credentialId ?? `xsuaa:${credential.clientId}`;
    return withRetry(
      async ({ attempt, remainingMs }) => {
        if (attempt > 1 && this.#beforeRetry !== undefined) await this.#beforeRetry();
        const obtainedAtMs = this.#clock.nowMs();
        const response = await this.#http.request({
          operation: OPERATION,
          credentialId,
          method: 'POST',
          url,
          ...this.#authentication(credential),
          timeoutMs: remainingMs,
          ...(options.caPem === undefined ? {} : { caPem: options.caPem }),
          // Tokens per credential are few and serialized by the cache: one connection, reused.
          connections: 1,
          responseKind: 'token',
        });
        return this.#interpret(credential, url, response, obtainedAtMs);
      },
      { policy, clock: this.#clock, random: this.#random, idempotent: true },
    );
  }

  #authentication(credential: TokenCredential): {
    identity?: ClientIdentity;
    headers: Record<string, string>;
    body: string;
  } {
    const contentType = { 'content-type': 'application/x-www-form-urlencoded' };
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (isX509Credential(credential)) {
      form.set('client_id', credential.clientId);
      return {
        identity: { certificate: credential.certificate, key: credential.key },
        headers: contentType,
        body: form.toString(),
      };
    }
    if (credential.secretIn === 'basic') {
      const basic = Buffer.from(
        `${formEncode(credential.clientId)}:${formEncode(credential.clientSecret)}`,
        'utf8',
      ).toString('base64');
      return { headers: { ...contentType, authorization: `Basic ${basic}` }, body: form.toString() };
    }
    form.set('client_id', credential.clientId);
    form.set('client_secret', credential.clientSecret);
    return { headers: contentType, body: form.toString() };
  }

  #interpret(
    credential: TokenCredential,
    url: URL,
    response: BtpResponse,
    obtainedAtMs: number,
  ): AccessToken {
    const secrets = credentialSecrets(credential);
    if (response.status === 200) return parseToken(url, response.json, obtainedAtMs);
    if (response.status === 401) {
      const body = isRecord(response.json) ? response.json : {};
      const description = optionalString(body.error_description) ?? '';
      const code = UNSUPPORTED_CREDENTIAL.test(description) ? 'BtpUnsupportedCredential' : 'BtpUnauthorized';
      throw errorForStatus('POST', url, response, secrets, code);
    }
    throw errorForStatus('POST', url, response, secrets);
  }
}

function parseToken(url: URL, json: unknown, obtainedAtMs: number): AccessToken {
  if (!isRecord(json)) throw unexpectedBody('POST', url, 200, 'the body is not a JSON object');
  const value = nonEmptyString(json.access_token);
  if (value === undefined) throw unexpectedBody('POST', url, 200, 'there is no access_token');
  const expiresIn = json.expires_in;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw unexpectedBody('POST', url, 200, 'expires_in is not a positive number');
  }
  const tokenType = nonEmptyString(json.token_type) ?? 'bearer';
  if (tokenType.toLowerCase() !== 'bearer') {
    throw unexpectedBody('POST', url, 200, `the token type is not bearer`);
  }
  const expiresInSeconds = Math.floor(expiresIn);
  return Object.freeze({
    accessToken: new Secret(value),
    tokenType,
    obtainedAt: new Date(obtainedAtMs),
    expiresAt: new Date(obtainedAtMs + expiresInSeconds * 1000),
    expiresInSeconds,
    scope: optionalString(json.scope),
  });
}
