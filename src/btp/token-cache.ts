// Tokens per credential, kept until shortly before they expire, fetched at most once at a time per
// credential. When a refresh fails while the old token still has a while to live, the old one is
// handed out and the refresh is tried again a little later, so an XSUAA hiccup does not stop
// Service Manager calls.
import { createHash } from 'node:crypto';
import type { Clock } from '../runtime/clock.ts';
import {
  type AccessToken,
  type FetchTokenOptions,
  isX509Credential,
  type TokenClient,
  type TokenCredential,
} from './token-client.ts';

export interface TokenRefreshPolicy {
  /** Refresh after this share of the lifetime ... */
  readonly lifeFraction: number;
  /** ... or this long before expiry, whichever is sooner ... */
  readonly marginMs: number;
  /** ... but never before this share of the lifetime (short-lived tokens). */
  readonly minLifeFraction: number;
  /** A failed refresh keeps the old token while it has at least this long left ... */
  readonly staleMinRemainingMs: number;
  /** ... and tries again after this long. */
  readonly staleRetryMs: number;
}

export const DEFAULT_TOKEN_REFRESH: TokenRefreshPolicy = Object.freeze({
  lifeFraction: 2 / 3,
  marginMs: 5 * 60_000,
  minLifeFraction: 1 / 2,
  staleMinRemainingMs: 60_000,
  staleRetryMs: 30_000,
});

/**
 * Pure: when a token obtained at `obtainedAtMs`, living `expiresInSeconds`, should be replaced.
 * 12 h tokens: after 8 h; 10 min: after 5 min; 1 min: after 30 s.
 */
export function tokenRefreshAtMs(
  obtainedAtMs: number,
  expiresInSeconds: number,
  policy: TokenRefreshPolicy = DEFAULT_TOKEN_REFRESH,
): number {
  const lifeMs = expiresInSeconds * 1000;
  const byMargin = Math.max(lifeMs - policy.marginMs, lifeMs * policy.minLifeFraction);
  return obtainedAtMs + Math.min(lifeMs * policy.lifeFraction, byMargin);
}

/** A stable cache key for a credential; it changes when its secret or certificate does. */
export function credentialKey(credential: TokenCredential): string {
  const hash = createHash('sha256').update(credential.tokenUrl).update('\0').update(credential.clientId);
  if (isX509Credential(credential))
    hash.update('\0x509\0').update(credential.certificate).update('\0').update(credential.key);
  else
    hash
      .update('\0secret\0')
      .update(credential.clientSecret)
      .update('\0')
      .update(credential.secretIn ?? 'body');
  return hash.digest('hex');
}

interface Entry {
  readonly token: AccessToken;
  refreshAtMs: number;
}

export interface TokenCacheOptions {
  readonly client: TokenClient;
  readonly clock: Clock;
  readonly refresh?: Partial<TokenRefreshPolicy>;
}

export class TokenCache {
  readonly #client: TokenClient;
  readonly #clock: Clock;
  readonly #policy: TokenRefreshPolicy;
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<AccessToken>>();

  constructor(options: TokenCacheOptions) {
    this.#client = options.client;
    this.#clock = options.clock;
    this.#policy = { ...DEFAULT_TOKEN_REFRESH, ...options.refresh };
  }

  /** Credentials with a cached token. */
  get size(): number {
    return this.#entries.size;
  }

  /** A token that is not due for refresh; fetched when needed, once for all concurrent callers. */
  async get(credential: TokenCredential, options: FetchTokenOptions = {}): Promise<AccessToken> {
    const key = credentialKey(credential);
    const entry = this.#entries.get(key);
    if (entry !== undefined && this.#clock.nowMs() < entry.refreshAtMs) return entry.token;
    let pending = this.#inflight.get(key);
    if (pending === undefined) {
      pending = this.#refresh(key, credential, options).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  /**
   * Drops the cached token, e.g. after the server refused it; with `token` only when it is still
   * that one (a concurrent caller may have replaced it already).
   */
  invalidate(credential: TokenCredential, token?: AccessToken): void {
    const key = credentialKey(credential);
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    if (token === undefined || entry.token.accessToken.equals(token.accessToken)) this.#entries.delete(key);
  }

  /** Forgets a credential entirely (it was rotated or deleted). */
  forget(credential: TokenCredential): void {
    this.#entries.delete(credentialKey(credential));
  }

  clear(): void {
    this.#entries.clear();
  }

  async #refresh(key: string, credential: TokenCredential, options: FetchTokenOptions): Promise<AccessToken> {
    try {
      const token = await this.#client.fetchToken(credential, options);
      this.#entries.set(key, {
        token,
        refreshAtMs: tokenRefreshAtMs(token.obtainedAt.getTime(), token.expiresInSeconds, this.#policy),
      });
      return token;
    } catch (error) {
      const stale = this.#entries.get(key);
      const nowMs = this.#clock.nowMs();
      if (
        stale !== undefined &&
        stale.token.expiresAt.getTime() - nowMs >= this.#policy.staleMinRemainingMs
      ) {
        stale.refreshAtMs = nowMs + this.#policy.staleRetryMs;
        return stale.token;
      }
      throw error;
    }
  }
}
