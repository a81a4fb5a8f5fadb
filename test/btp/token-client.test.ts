// The token client against the simulator's XSUAA over real TLS: both ways of authenticating, and
// every failure reason as a catalogued BtpError with no secret in it.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BtpError } from '../../src/btp/errors.ts';
import { BtpHttp } from '../../src/btp/http.ts';
import { TokenClient, type TokenCredential } from '../../src/btp/token-client.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { type CreatedBinding, createX509Binding, type SmClient, smClient } from '../simulator/helpers.ts';
import { loopbackHosts } from '../support/allowed-hosts.ts';
import { requestCount } from '../support/btp-simulator/counters.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { FakeClock } from '../support/fake-clock.ts';
import {
  closedPort,
  expectNoSecrets,
  FAST_RETRY,
  httpFor,
  rejection,
  retryWaitMs,
  secretCredential,
  x509Credential,
} from './helpers.ts';

let sim: Simulator;
let sm: SmClient;
let http: BtpHttp;
let client: TokenClient;
let binding: CreatedBinding;

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 4 } });
  sm = await smClient(sim);
  binding = await createX509Binding(sm, sim.instance('xsuaa-application').id, 'token-client');
});

afterAll(async () => {
  await sm.close();
  await sim.stop();
});

beforeEach(() => {
  http = httpFor(sim);
  client = new TokenClient({ http, clock: systemClock, retry: FAST_RETRY });
});

afterEach(async () => {
  sim.clearFaults();
  await http.closeAll();
});

function bindingCredential(created: CreatedBinding): TokenCredential {
  return {
    tokenUrl: `${String(created.credentials.certurl)}/oauth/token`,
    clientId: String(created.credentials.clientid),
    certificate: created.certificate.cert,
    key: created.certificate.key,
  };
}

function secretsOf(credential: TokenCredential): string[] {
  return 'certificate' in credential ? [credential.certificate, credential.key] : [credential.clientSecret];
}

async function failure(credential: TokenCredential, tokenClient: TokenClient = client): Promise<BtpError> {
  const error = await rejection(tokenClient.fetchToken(credential));
  expect(error).toBeInstanceOf(BtpError);
  expectNoSecrets(error, secretsOf(credential));
  return error as BtpError;
}

describe('tokens', () => {
  it('gets a token with the certificate in the handshake (certurl), sending no secret', async () => {
    const before = sim.counters();
    const token = await client.fetchToken(x509Credential(sim));
    expect(token.tokenType).toBe('bearer');
    expect(token.expiresInSeconds).toBe(43_199);
    expect(token.expiresAt.getTime() - token.obtainedAt.getTime()).toBe(43_199_000);
    expect(token.accessToken.reveal().split('.')).toHaveLength(3);
    expect(requestCount(sim.counters(), 'xsuaa.certToken', 200)).toBe(
      requestCount(before, 'xsuaa.certToken', 200) + 1,
    );
  });

  it("gets a token with a binding's own x509 credentials", async () => {
    const token = await client.fetchToken(bindingCredential(binding));
    expect(token.accessToken.reveal()).not.toBe('');
  });

  it.each([['body'], ['basic']] as const)(
    'gets a token with the client secret in the %s',
    async (secretIn) => {
      const token = await client.fetchToken({ ...secretCredential(sim), secretIn });
      expect(token.tokenType).toBe('bearer');
      expect(token.scope).toContain('service-manager');
    },
  );

  it('keeps the token out of JSON, String() and inspect', async () => {
    const token = await client.fetchToken(secretCredential(sim));
    const raw = token.accessToken.reveal();
    expectNoSecrets(token, [raw]);
    expect(`${token.accessToken}`).toBe('[redacted]');
  });
});

describe('failure reasons', () => {
  it('no client certificate on the certurl: BtpTLSHandshakeFailed (TLS alert certificate_required)', async () => {
    const credential = { ...secretCredential(sim), tokenUrl: `${sim.xsuaaCertUrl}/oauth/token` };
    const error = await failure(credential);
    expect(error.code).toBe('BtpTLSHandshakeFailed');
    expect(error.message).toContain('CERTIFICATE_REQUIRED');
    expect(error.retryable).toBe(false);
  });

  it.each([['foreignCa'], ['expired']] as const)(
    'a %s certificate: BtpTLSHandshakeFailed, with no HTTP exchange',
    async (defect) => {
      sim.injectFault({ kind: 'credential', defect, times: 1 });
      const bad = await createX509Binding(sm, sim.instance('xsuaa-application').id, `defect-${defect}`);
      const before = sim.counters();
      const error = await failure(bindingCredential(bad));
      expect(error.code).toBe('BtpTLSHandshakeFailed');
      // Not retried: one failed request and one probe, both refused in the handshake.
      expect(requestCount(sim.counters(), 'xsuaa.certToken')).toBe(requestCount(before, 'xsuaa.certToken'));
      const reason = defect === 'foreignCa' ? 'SELF_SIGNED_CERT_IN_CHAIN' : 'CERT_HAS_EXPIRED';
      expect(sim.counters().handshakeFailures.xsuaaCert[reason]).toBe(
        (before.handshakeFailures.xsuaaCert[reason] ?? 0) + 2,
      );
    },
  );

  it('a dropped connection with a good certificate is not mistaken for a refused certificate', async () => {
    sim.injectFault({ kind: 'reset', route: 'xsuaa.certToken', times: 1 });
    sim.resetCounters();
    const token = await client.fetchToken(x509Credential(sim));
    expect(token.tokenType).toBe('bearer');
    expect(sim.counters().requests['xsuaa.certToken']).toEqual({ reset: 1, 200: 1 });
    expect(http.counts()['xsuaa.token']).toMatchObject({ BtpUnreachable: 1, 200: 1 });
  });

  it("a deleted binding's certificate: BtpUnauthorized (401 invalid_client)", async () => {
    const doomed = await createX509Binding(sm, sim.instance('xsuaa-application').id, 'doomed');
    const credential = bindingCredential(doomed);
    await client.fetchToken(credential);
    expect(sim.removeBinding(doomed.id)).toBe(true);
    const error = await failure(credential);
    expect(error.code).toBe('BtpUnauthorized');
    expect(error.httpStatus).toBe(401);
    expect(error.message).toContain('invalid_client');
  });

  it('a wrong client secret: BtpUnauthorized', async () => {
    const error = await failure({ ...secretCredential(sim), clientSecret: 'not-the-secret-at-all' });
    expect(error.code).toBe('BtpUnauthorized');
  });

  it('x509 credentials sent to the plain url: BtpUnsupportedCredential', async () => {
    const credential = { ...x509Credential(sim), tokenUrl: `${sim.xsuaaUrl}/oauth/token` };
    const error = await failure(credential);
    expect(error.code).toBe('BtpUnsupportedCredential');
    expect(error.httpStatus).toBe(401);
  });

  it('a certificate and key that TLS cannot use: BtpInvalidClientCredential, nothing sent', async () => {
    const good = x509Credential(sim);
    const error = await failure({ ...good, key: binding.certificate.key });
    expect(error.code).toBe('BtpInvalidClientCredential');
    const garbage = await failure({ ...good, certificate: 'not a certificate', key: 'not a key' });
    expect(garbage.code).toBe('BtpInvalidClientCredential');
  });

  it('a server whose certificate we do not trust (no CA bundle): BtpServerCertificateUntrusted', async () => {
    const untrusting = new BtpHttp({
      clock: systemClock,
      allowedHosts: loopbackHosts,
      connectTimeoutMs: 2_000,
    });
    const bare = new TokenClient({ http: untrusting, clock: systemClock, retry: FAST_RETRY });
    const error = await failure(secretCredential(sim), bare);
    await untrusting.closeAll();
    expect(error.code).toBe('BtpServerCertificateUntrusted');
  });

  it('a 5xx burst is retried, then succeeds', async () => {
    sim.injectFault({ kind: 'status', route: 'xsuaa.token', status: 503, times: 2 });
    sim.resetCounters();
    await client.fetchToken(secretCredential(sim));
    expect(sim.counters().requests['xsuaa.token']).toEqual({ 503: 2, 200: 1 });
    expect(http.counts()['xsuaa.token']).toEqual({ 503: 2, 200: 1 });
  });

  it('waits for beforeRetry before each retry, never before the first attempt', async () => {
    sim.injectFault({ kind: 'status', route: 'xsuaa.token', status: 503, times: 2 });
    const turns: number[] = [];
    const limited = new TokenClient({
      http,
      clock: systemClock,
      retry: FAST_RETRY,
      beforeRetry: async () => {
        turns.push(sim.counters().requests['xsuaa.token']?.['503'] ?? 0);
      },
    });
    sim.resetCounters();
    await limited.fetchToken(secretCredential(sim));
    // Called after the first 503 and after the second: two retries, two turns.
    expect(turns).toEqual([1, 2]);
  });

  it('a 5xx that persists ends as BtpServerError after the attempts run out', async () => {
    sim.injectFault({ kind: 'status', route: 'xsuaa.token', status: 500, times: 10 });
    sim.resetCounters();
    const error = await failure(secretCredential(sim));
    expect(error.code).toBe('BtpServerError');
    expect(error.httpStatus).toBe(500);
    expect(sim.counters().requests['xsuaa.token']).toEqual({ 500: FAST_RETRY.maxAttempts });
  });

  // All three Retry-After forms are checked against the Service Manager.
  it('a 429 is retried no sooner than its Retry-After says', async () => {
    // The client waits on a fake clock: the test reads the wait it armed, then lets it pass.
    // 1 s is far above FAST_RETRY's backoff (20-100 ms, ±20 %), so only Retry-After explains it.
    const clock = new FakeClock();
    const timed = new TokenClient({ http, clock, retry: FAST_RETRY });
    sim.injectFault({
      kind: 'status',
      route: 'xsuaa.token',
      status: 429,
      times: 1,
      retryAfter: { form: 'seconds', seconds: 1 },
    });
    sim.resetCounters();
    const token = timed.fetchToken(secretCredential(sim));
    expect(await retryWaitMs(clock)).toBe(1_000);
    expect(sim.counters().requests['xsuaa.token']).toEqual({ 429: 1 });
    await clock.advance(1_000);
    expect((await token).tokenType).toBe('bearer');
    expect(sim.counters().requests['xsuaa.token']).toEqual({ 429: 1, 200: 1 });
  });

  it('a 429 asking for longer than the policy waits ends the call with BtpRateLimited and the delay', async () => {
    sim.injectFault({
      kind: 'status',
      route: 'xsuaa.token',
      status: 429,
      times: 1,
      retryAfter: { form: 'seconds', seconds: 60 },
    });
    const error = await failure(secretCredential(sim));
    expect(error.code).toBe('BtpRateLimited');
    expect(error.retryAfterMs).toBe(60_000);
    expect(error.retryable).toBe(true);
  });

  it('a server that is down: BtpUnreachable after the retries', async () => {
    const port = await closedPort();
    const error = await failure({
      ...secretCredential(sim),
      tokenUrl: `https://127.0.0.1:${port}/oauth/token`,
    });
    expect(error.code).toBe('BtpUnreachable');
    expect(error.requestSent).toBe(false);
    expect(http.counts()['xsuaa.token']).toEqual({ BtpUnreachable: FAST_RETRY.maxAttempts });
  });

  it('a slow server: BtpTimeout', async () => {
    sim.injectFault({ kind: 'latency', route: 'xsuaa.token', ms: 800 });
    const slow = httpFor(sim, { requestTimeoutMs: 100 });
    const impatient = new TokenClient({
      http: slow,
      clock: systemClock,
      retry: { ...FAST_RETRY, maxAttempts: 2 },
    });
    const error = await failure(secretCredential(sim), impatient);
    await slow.closeAll();
    expect(error.code).toBe('BtpTimeout');
    expect(slow.counts()['xsuaa.token']).toEqual({ BtpTimeout: 2 });
  });

  it('a token URL that is not https is refused before anything is sent', async () => {
    const error = await failure({ ...secretCredential(sim), tokenUrl: 'http://127.0.0.1:1/oauth/token' });
    expect(error.code).toBe('BtpBadRequest');
  });
});
