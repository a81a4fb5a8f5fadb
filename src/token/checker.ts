// The token check's I/O: fetch an OAuth token with a BTPCertificate's credentials over mTLS
// (btp.md §3) and report the outcome as a TokenReady reason. One keep-alive pool per owner and
// credential, closed when the owner's credential changes or the owner is forgotten; one global
// token bucket in front of every check, so that thousands of certificates checked together stay
// far below XSUAA's 60 requests/s per subaccount.
import { createHash } from 'node:crypto';
import type { AllowedHosts } from '../btp/allowed-hosts.ts';
import { BtpHttp, type RequestObserver } from '../btp/http.ts';
import { type RateLimit, TokenBucket } from '../btp/rate-limit.ts';
import { type AccessToken, TokenClient } from '../btp/token-client.ts';
import type { Clock } from '../runtime/clock.ts';
import { type TokenFailure, tokenFailure } from './outcome.ts';

/** 10 requests/s with bursts of 10: at most 20 in any second, a third of the documented 60/s per subaccount. */
export const TOKEN_CHECK_RATE_LIMIT: RateLimit = Object.freeze({ perSecond: 10, burst: 10 });
/** The largest burst, whatever the rate: a bucket lets burst + rate requests through in one second. */
export const MAX_TOKEN_CHECK_BURST = 10;
/** The budget of one check, retries included. */
export const DEFAULT_TOKEN_CHECK_TIMEOUT_MS = 30_000;

export type TokenCheckRequest = {
  /** Who asks (namespace/name): the pool belongs to it. */
  readonly owner: string;
  /** The full token URL, `{certurl}/oauth/token`. */
  readonly tokenUrl: string;
  readonly clientId: string;
  /** PEM chain, leaf first, and its key: presented in the TLS handshake. */
  readonly certificate: string;
  readonly key: string;
  /** More CA certificates (PEM) to trust for this endpoint. */
  readonly caPem?: string;
};

export type TokenCheckOutcome =
  | { readonly ok: true; readonly token: AccessToken }
  | ({ readonly ok: false } & TokenFailure);

export type TokenCheckerOptions = {
  readonly clock: Clock;
  /** Operator-wide extra CA certificates (PEM). */
  readonly caPem?: string | undefined;
  readonly rateLimit?: RateLimit;
  readonly timeoutMs?: number;
  /** The only hosts and ports a check may contact (--allowed-hosts). */
  readonly allowedHosts: AllowedHosts;
  /** Told of every token request, retries included (metrics). */
  readonly onRequest?: RequestObserver;
  /** Told of every check when it ends: TokenIssued or the TokenReady reason, and its clock time. */
  readonly onCheck?: (outcome: string, durationMs: number) => void;
};

export class TokenChecker {
  readonly #http: BtpHttp;
  readonly #client: TokenClient;
  readonly #bucket: TokenBucket;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #onCheck: ((outcome: string, durationMs: number) => void) | undefined;
  /** owner -> the credential id of its pool */
  readonly #owners = new Map<string, string>();

  constructor(o: TokenCheckerOptions) {
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_TOKEN_CHECK_TIMEOUT_MS;
    this.#clock = o.clock;
    this.#onCheck = o.onCheck;
    if (!(this.#timeoutMs > 0))
      throw new RangeError(`token check timeout must be > 0, got ${this.#timeoutMs}`);
    this.#http = new BtpHttp({
      clock: o.clock,
      ...(o.caPem ? { caPem: o.caPem } : {}),
      allowedHosts: o.allowedHosts,
      ...(o.onRequest ? { onRequest: o.onRequest } : {}),
      connectTimeoutMs: Math.min(10_000, this.#timeoutMs),
      requestTimeoutMs: this.#timeoutMs,
      // Checks of one credential are an hour apart by default; a short burst of them (on demand,
      // after a rotation) shares one connection.
      keepAliveTimeoutMs: 30_000,
    });
    const limit = o.rateLimit ?? TOKEN_CHECK_RATE_LIMIT;
    this.#bucket = new TokenBucket(o.clock, {
      perSecond: limit.perSecond,
      burst: Math.min(limit.burst, MAX_TOKEN_CHECK_BURST),
    });
    this.#client = new TokenClient({
      http: this.#http,
      clock: o.clock,
      // Retries are token requests too: they wait for their turn like first attempts.
      beforeRetry: () => this.#bucket.take(),
      retry: {
        maxAttempts: 3,
        deadlineMs: this.#timeoutMs,
        backoff: { baseMs: 500, maxMs: 5_000, jitter: 0.2 },
        maxRetryAfterMs: 5_000,
      },
    });
  }

  /**
   * One check; never throws for what the endpoint or the network did. The wait for the bucket is
   * not part of the check's time budget; retries within the budget wait for their turn too.
   */
  async check(request: TokenCheckRequest): Promise<TokenCheckOutcome> {
    await this.#bucket.take();
    const startedMs = this.#clock.nowMs();
    const outcome = await this.#check(request);
    this.#onCheck?.(outcome.ok ? 'TokenIssued' : outcome.reason, this.#clock.nowMs() - startedMs);
    return outcome;
  }

  async #check(request: TokenCheckRequest): Promise<TokenCheckOutcome> {
    const credentialId = `token:${request.owner}:${credentialDigest(request)}`;
    const previous = this.#owners.get(request.owner);
    if (previous !== undefined && previous !== credentialId) await this.#http.close(previous);
    this.#owners.set(request.owner, credentialId);
    try {
      const token = await this.#client.fetchToken(
        {
          tokenUrl: request.tokenUrl,
          clientId: request.clientId,
          certificate: request.certificate,
          key: request.key,
        },
        {
          credentialId,
          deadlineMs: this.#timeoutMs,
          ...(request.caPem === undefined ? {} : { caPem: request.caPem }),
        },
      );
      return { ok: true, token };
    } catch (error) {
      return { ok: false, ...tokenFailure(error) };
    }
  }

  /** Closes the owner's pool (its object was deleted, or its check turned off). */
  async forget(owner: string): Promise<void> {
    const credentialId = this.#owners.get(owner);
    if (credentialId === undefined) return;
    this.#owners.delete(owner);
    await this.#http.close(credentialId);
  }

  /** Open pools (tests, metrics). */
  get poolCount(): number {
    return this.#http.poolCount;
  }

  /** Requests by outcome (tests; metrics are told through onRequest). */
  counts(): Record<string, Record<string, number>> {
    return this.#http.counts();
  }

  async close(): Promise<void> {
    this.#owners.clear();
    await this.#http.closeAll();
  }
}

/** Identifies a credential and where it goes, without keeping key material in a map key. */
function credentialDigest(r: TokenCheckRequest): string {
  return createHash('sha256')
    .update(`${r.tokenUrl}\0${r.clientId}\0${r.certificate}\0${r.key}\0${r.caPem ?? ''}`)
    .digest('hex')
    .slice(0, 16);
}
