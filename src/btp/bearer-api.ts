// One REST API called with a client-credentials bearer token (the Service Manager, the
// Destination service): the token comes from the TokenCache (a 401 refreshes it once per call),
// every request goes through the retry policy (retry.ts: 429 and 5xx are thrown and retried,
// honouring Retry-After), and error texts are scrubbed of the credential and the token.
import type { Clock } from '../runtime/clock.ts';
import { trimTrailingSlashes } from '../runtime/text.ts';
import { errorForStatus } from './api-error.ts';
import { BtpError, describeRequest } from './errors.ts';
import type { BtpHttp, BtpResponse, HttpMethod } from './http.ts';
import type { ResponseKind } from './limits.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import type { TokenCache } from './token-cache.ts';
import { type AccessToken, credentialSecrets, type TokenCredential } from './token-client.ts';

/** An API credential: its token endpoint and client, with a secret or a certificate and key. */
export type ApiCredential = { readonly tokenUrl: string; readonly clientId: string } & (
  | { readonly clientSecret: string }
  | { readonly certificate: string; readonly key: string }
);

export interface Exchange {
  readonly operation: string;
  readonly method: HttpMethod;
  readonly url: URL;
  readonly body?: unknown;
  readonly idempotent: boolean;
  readonly deadlineAtMs: number;
  /** What the answer is; `resource` when absent. */
  readonly responseKind?: ResponseKind;
}

export interface DeadlineOptions {
  /** Budget of the whole call, retries (and polling) included. */
  readonly deadlineMs?: number;
}

export function tokenCredentialOf(credential: ApiCredential): TokenCredential {
  const base = { tokenUrl: credential.tokenUrl, clientId: credential.clientId };
  return 'certificate' in credential
    ? { ...base, certificate: credential.certificate, key: credential.key }
    : { ...base, clientSecret: credential.clientSecret };
}

/** The API's base URL from a credential field (`sm_url`, `uri`); https only. */
export function httpsBaseUrl(value: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BtpError('BtpBadRequest', `the ${field} of the credential is not a valid URL`);
  }
  if (url.protocol !== 'https:') {
    throw new BtpError('BtpBadRequest', `the ${field} of the credential must be https, not ${url.protocol}`);
  }
  return url;
}

/** What a client of such an API is built with. */
export interface ApiClientOptions {
  readonly http: BtpHttp;
  readonly tokens: TokenCache;
  readonly clock: Clock;
  /** For backoff jitter; Math.random when absent. */
  readonly random?: () => number;
  readonly retry?: Partial<RetryPolicy>;
  /** Owner of this client's connection pools in BtpHttp. */
  readonly credentialId?: string;
}

export interface BearerApiOptions {
  readonly base: URL;
  readonly credential: TokenCredential;
  readonly credentialId: string;
  readonly http: BtpHttp;
  readonly tokens: TokenCache;
  readonly clock: Clock;
  readonly random: () => number;
  readonly retry: RetryPolicy;
  /** Every request waits for this first (a rate limit): first attempts, retries and the second
   * try after a 401 alike. The wait is part of the call's deadline. */
  readonly beforeRequest?: (spec: Exchange) => Promise<void>;
}

export class BearerApi {
  readonly #o: BearerApiOptions;

  constructor(options: BearerApiOptions) {
    this.#o = options;
  }

  get credentialId(): string {
    return this.#o.credentialId;
  }

  /** One request through the retry policy, with a bearer token; 429 and 5xx are thrown (and retried). */
  async exchange(spec: Exchange): Promise<BtpResponse> {
    const { clock } = this.#o;
    const tokenFailures = new WeakSet<object>();
    let refreshed = false;
    const budgetMs = spec.deadlineAtMs - clock.nowMs();
    if (budgetMs <= 0) throw noTimeLeft(spec);
    const send = async (token: AccessToken, timeoutMs: number): Promise<BtpResponse> => {
      if (this.#o.beforeRequest !== undefined) {
        await this.#o.beforeRequest(spec);
        const leftMs = spec.deadlineAtMs - clock.nowMs();
        if (leftMs <= 0) throw noTimeLeft(spec);
        timeoutMs = Math.min(timeoutMs, leftMs);
      }
      return this.#o.http.request({
        operation: spec.operation,
        credentialId: this.#o.credentialId,
        method: spec.method,
        url: spec.url,
        headers: {
          authorization: `Bearer ${token.accessToken.reveal()}`,
          ...(spec.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
        timeoutMs,
        responseKind: spec.responseKind ?? 'resource',
      });
    };
    return withRetry(
      async ({ remainingMs }) => {
        let token = await this.#token(tokenFailures, remainingMs);
        let response = await send(token, remainingMs);
        if (response.status === 401 && !refreshed) {
          refreshed = true;
          this.#o.tokens.invalidate(this.#o.credential, token);
          token = await this.#token(tokenFailures, remainingMs);
          response = await send(token, Math.max(1, spec.deadlineAtMs - clock.nowMs()));
        }
        if (response.status === 429 || response.status >= 500)
          throw this.error(spec.method, spec.url, response, token);
        return response;
      },
      {
        policy: { ...this.#o.retry, deadlineMs: budgetMs },
        clock,
        random: this.#o.random,
        idempotent: spec.idempotent,
        // A token failure went through the retry policy inside the TokenClient already.
        retriable: (error) => !(typeof error === 'object' && error !== null && tokenFailures.has(error)),
      },
    );
  }

  async #token(failures: WeakSet<object>, remainingMs: number): Promise<AccessToken> {
    try {
      return await this.#o.tokens.get(this.#o.credential, {
        credentialId: this.#o.credentialId,
        deadlineMs: Math.max(1, remainingMs),
      });
    } catch (error) {
      if (typeof error === 'object' && error !== null) failures.add(error);
      throw error;
    }
  }

  /** The catalogued error for an answer the caller did not expect, scrubbed of our secrets. */
  error(method: string, url: URL, response: BtpResponse, token?: AccessToken): BtpError {
    const secrets = this.secrets();
    if (token !== undefined) secrets.push(token.accessToken.reveal());
    return errorForStatus(method, url, response, secrets);
  }

  /** The strings of the credential that no error text may show. */
  secrets(): string[] {
    return credentialSecrets(this.#o.credential);
  }

  deadline(options: DeadlineOptions, defaultMs: number): number {
    return this.#o.clock.nowMs() + (options.deadlineMs ?? defaultMs);
  }

  /** `path` under the base URL's path, with the query parameters that are set. */
  url(path: string, query: Readonly<Record<string, string | undefined>> = {}): URL {
    const base = this.#o.base;
    const url = new URL(base);
    url.pathname = `${trimTrailingSlashes(base.pathname)}${path}`;
    const parts = Object.entries(query)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
    url.search = parts.length === 0 ? '' : `?${parts.join('&')}`;
    return url;
  }

  /** Closes this credential's connections and forgets its token. */
  async close(): Promise<void> {
    this.#o.tokens.forget(this.#o.credential);
    await this.#o.http.close(this.#o.credentialId);
  }
}

function noTimeLeft(spec: Exchange): BtpError {
  return new BtpError(
    'BtpTimeout',
    `${describeRequest(spec.method, spec.url)}: no time left before the deadline`,
    { requestSent: false },
  );
}
