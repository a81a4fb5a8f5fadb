// The token cache: reuse, refresh before expiry, one fetch at a time per credential, and the old
// token while a refresh fails. Time is a FakeClock shared by the client and the simulator, so
// token lifetimes pass instantly.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BtpHttp } from '../../src/btp/http.ts';
import {
  credentialKey,
  DEFAULT_TOKEN_REFRESH,
  TokenCache,
  tokenRefreshAtMs,
} from '../../src/btp/token-cache.ts';
import { TokenClient } from '../../src/btp/token-client.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { FakeClock } from '../support/fake-clock.ts';
import {
  FAST_RETRY,
  httpFor,
  rejection,
  secretCredential,
  simulatorClock,
  x509Credential,
} from './helpers.ts';

describe('tokenRefreshAtMs', () => {
  it.each([
    ['a 12 h token: after 2/3 of its life', 43_200, 8 * 3_600_000],
    ['a 10 min token: 5 min before expiry', 600, 300_000],
    ['a 1 min token: after half its life', 60, 30_000],
    ['a 20 min token: 2/3 is sooner than 5 min before expiry', 1_200, 800_000],
  ])('%s', (_name, expiresInSeconds, afterMs) => {
    expect(tokenRefreshAtMs(1_000, expiresInSeconds, DEFAULT_TOKEN_REFRESH)).toBe(1_000 + afterMs);
  });
});

describe('credentialKey', () => {
  it('changes with the secret, the certificate or the endpoint, and holds none of them', () => {
    const base = { tokenUrl: 'https://a.example/oauth/token', clientId: 'c', clientSecret: 's3cr3t-value' };
    const key = credentialKey(base);
    expect(credentialKey({ ...base })).toBe(key);
    expect(credentialKey({ ...base, clientSecret: 'other' })).not.toBe(key);
    expect(credentialKey({ ...base, tokenUrl: 'https://b.example/oauth/token' })).not.toBe(key);
    expect(credentialKey({ ...base, secretIn: 'basic' })).not.toBe(key);
    expect(key).not.toContain('s3cr3t');
  });
});

describe('TokenCache against the simulator', () => {
  const clock = new FakeClock(Date.now());
  let sim: Simulator;
  let http: BtpHttp;
  let cache: TokenCache;

  beforeAll(async () => {
    // 60 s tokens: refreshed after 30 s (half their life, as 5 min before expiry is before issue).
    sim = await startSimulator({
      keyPool: { size: 0 },
      tokenExpiresInSeconds: 60,
      clock: simulatorClock(clock),
    });
  });

  afterAll(async () => {
    await sim.stop();
  });

  beforeEach(() => {
    http = httpFor(sim, { clock });
    cache = new TokenCache({
      client: new TokenClient({ http, clock, retry: { ...FAST_RETRY, maxAttempts: 1 } }),
      clock,
    });
  });

  afterEach(async () => {
    sim.clearFaults();
    await http.closeAll();
  });

  it('reuses a token until its refresh time, then fetches a new one', async () => {
    for (const credential of [secretCredential(sim), x509Credential(sim)]) {
      const issued = sim.counters().tokensIssued;
      const first = await cache.get(credential);
      expect(first.expiresInSeconds).toBe(60);
      const again = await cache.get(credential);
      expect(again).toBe(first);
      await clock.advance(29_000);
      expect(await cache.get(credential)).toBe(first);
      expect(sim.counters().tokensIssued).toBe(issued + 1);

      await clock.advance(1_000);
      const renewed = await cache.get(credential);
      expect(renewed).not.toBe(first);
      expect(renewed.accessToken.equals(first.accessToken)).toBe(false);
      expect(renewed.obtainedAt.getTime()).toBe(clock.nowMs());
      expect(sim.counters().tokensIssued).toBe(issued + 2);
    }
  });

  it('fetches at most once at a time per credential', async () => {
    const credential = secretCredential(sim);
    const issued = sim.counters().tokensIssued;
    const tokens = await Promise.all(Array.from({ length: 8 }, () => cache.get(credential)));
    expect(new Set(tokens).size).toBe(1);
    expect(sim.counters().tokensIssued).toBe(issued + 1);
    // Another credential has its own token.
    const other = await cache.get(x509Credential(sim));
    expect(other).not.toBe(tokens[0]);
    expect(cache.size).toBe(2);
  });

  it('fetches anew after invalidate, but only if the token is still the one it was told about', async () => {
    const credential = secretCredential(sim);
    const first = await cache.get(credential);
    cache.invalidate(credential, first);
    const second = await cache.get(credential);
    expect(second).not.toBe(first);
    cache.invalidate(credential, first);
    expect(await cache.get(credential)).toBe(second);
    cache.forget(credential);
    expect(cache.size).toBe(0);
  });

  it('keeps handing out the old token while a refresh fails and it still has time left', async () => {
    const refresh = { staleMinRemainingMs: 10_000, staleRetryMs: 5_000 };
    cache = new TokenCache({
      client: new TokenClient({ http, clock, retry: { ...FAST_RETRY, maxAttempts: 1 } }),
      clock,
      refresh,
    });
    const credential = secretCredential(sim);
    const first = await cache.get(credential);
    await clock.advance(31_000);
    sim.injectFault({ kind: 'status', route: 'xsuaa.token', status: 503, times: 1 });
    expect(await cache.get(credential)).toBe(first);
    // Tried again only after staleRetryMs; until then the old token is served without a request.
    const requests = sim.counters().requests['xsuaa.token']?.['503'];
    expect(await cache.get(credential)).toBe(first);
    expect(sim.counters().requests['xsuaa.token']?.['503']).toBe(requests);
    await clock.advance(refresh.staleRetryMs);
    const renewed = await cache.get(credential);
    expect(renewed).not.toBe(first);
  });

  it('fails when the refresh fails and the old token is about to expire', async () => {
    const credential = secretCredential(sim);
    await cache.get(credential);
    await clock.advance(59_000);
    sim.injectFault({ kind: 'status', route: 'xsuaa.token', status: 503, times: 1 });
    const error = await rejection(cache.get(credential));
    expect(error).toMatchObject({ code: 'BtpServerError' });
  });
});
