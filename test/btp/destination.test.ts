// The Destination service client against the simulator over real TLS: find-destination with its
// keystore files and a password kept as a Secret, stored certificates at both levels with both
// kinds of access, generation from a CSR (the key never sent), idempotent deletes, the error
// mapping (404, 401, 403, 409, 429 with Retry-After, 5xx retried), the allowed hosts, and errors
// that show no secret.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseAllowedHosts } from '../../src/btp/allowed-hosts.ts';
import { DestinationClient, type DestinationCredential } from '../../src/btp/destination.ts';
import { BtpError } from '../../src/btp/errors.ts';
import type { BtpHttp } from '../../src/btp/http.ts';
import { destinationClients } from '../../src/btp/port.ts';
import { TokenCache } from '../../src/btp/token-cache.ts';
import { TokenClient } from '../../src/btp/token-client.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import type { DestinationAccess } from '../../src/sources/destination-port.ts';
import { createCsr } from '../support/btp-simulator/keystores.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { expectNoSecrets, FAST_RETRY, httpFor, rejection, retryWaitMs, timedSimulator } from './helpers.ts';

let sim: Simulator;
let http: BtpHttp;
let tokens: TokenCache;

function secretAccess(s: Simulator): DestinationCredential {
  const { uri, url, clientid, clientsecret } = s.destinationCredentials.secret;
  return { serviceUrl: uri, tokenUrl: `${url}/oauth/token`, clientId: clientid, clientSecret: clientsecret };
}

function x509Access(s: Simulator): DestinationCredential {
  const { uri, certurl, clientid, certificate, key } = s.destinationCredentials.x509;
  return { serviceUrl: uri, tokenUrl: `${certurl}/oauth/token`, clientId: clientid, certificate, key };
}

function clientFor(
  credential: DestinationCredential,
  h: BtpHttp = http,
  t: TokenCache = tokens,
): DestinationClient {
  return new DestinationClient(credential, { http: h, tokens: t, clock: systemClock, retry: FAST_RETRY });
}

/** Everything an error of this file must not show. */
function secrets(): string[] {
  const { clientsecret } = sim.destinationCredentials.secret;
  const { certificate, key } = sim.destinationCredentials.x509;
  return [clientsecret, certificate, key];
}

async function failure(promise: Promise<unknown>): Promise<BtpError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(BtpError);
  expectNoSecrets(error, secrets());
  return error as BtpError;
}

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 2 } });
});

afterAll(async () => {
  await sim.stop();
});

beforeEach(async () => {
  await http?.closeAll();
  http = httpFor(sim);
  tokens = new TokenCache({
    client: new TokenClient({ http, clock: systemClock, retry: FAST_RETRY }),
    clock: systemClock,
  });
});

describe('findDestination', () => {
  it('parses the configuration, keeps the keystore password as a Secret, and returns the keystore bytes', async () => {
    const seeded = await sim.destinations.seedCertificate({ name: 'find.p12', password: 'hunter2-password' });
    sim.destinations.putDestination({
      Name: 'alm',
      Type: 'HTTP',
      URL: 'https://alm.example',
      Authentication: 'ClientCertificateAuthentication',
      KeyStoreLocation: 'find.p12',
      KeyStorePassword: 'hunter2-password',
      ProxyType: 'Internet',
    });
    const found = await clientFor(secretAccess(sim)).findDestination('alm');
    expect(found?.owner).toEqual({ level: 'Subaccount', id: sim.subaccountId });
    expect(found?.configuration).toMatchObject({
      name: 'alm',
      type: 'HTTP',
      url: 'https://alm.example',
      authentication: 'ClientCertificateAuthentication',
      keyStoreLocation: 'find.p12',
    });
    expect(found?.configuration.keyStorePassword?.reveal()).toBe('hunter2-password');
    expect(found?.configuration.properties).toMatchObject({ ProxyType: 'Internet' });
    expect(found?.configuration.properties.KeyStorePassword).toBeUndefined();
    expect(JSON.stringify(found)).not.toContain('hunter2-password');
    expect(inspect(found, { depth: 10 })).not.toContain('hunter2-password');
    expect(found?.certificates).toHaveLength(1);
    expect(Buffer.from(found?.certificates[0]?.content ?? []).equals(seeded.content)).toBe(true);
    expect(found?.authTokens).toEqual([]);
  });

  it('an OAuth2ClientCredentials destination: tokenServiceURL, clientId, and authTokens without their values', async () => {
    await sim.destinations.seedCertificate({ name: 'oauth-client.pem' });
    sim.destinations.putDestination({
      Name: 'alm-oauth',
      URL: 'https://alm.example/api',
      Authentication: 'OAuth2ClientCredentials',
      tokenServiceURL: `${sim.otherTenant.certurl}/oauth/token`,
      clientId: 'alm-client',
      'tokenService.KeyStoreLocation': 'oauth-client.pem',
    });
    const found = await clientFor(x509Access(sim)).findDestination('alm-oauth');
    expect(found?.configuration).toMatchObject({
      tokenServiceUrl: `${sim.otherTenant.certurl}/oauth/token`,
      clientId: 'alm-client',
      keyStoreLocation: 'oauth-client.pem',
    });
    expect(found?.authTokens).toEqual([{ type: 'bearer', error: undefined }]);
  });

  it('undefined for a name that does not exist, and for one found at the other level than asked', async () => {
    sim.destinations.putDestination({ Name: 'sub-only', URL: 'https://x.example' });
    const client = clientFor(secretAccess(sim));
    expect(await client.findDestination('nothing')).toBeUndefined();
    expect(await client.findDestination('sub-only', 'Instance')).toBeUndefined();
    expect((await client.findDestination('sub-only', 'Subaccount'))?.configuration.name).toBe('sub-only');
  });
});

describe('stored certificates', () => {
  it('reads a file at each level with each kind of access; undefined when missing; deletes idempotently', async () => {
    const instanceId = sim.instance('destination-lite').id;
    const sub = await sim.destinations.seedCertificate({ name: 'read.pem' });
    const inst = await sim.destinations.seedCertificate({
      name: 'read.pem',
      owner: { level: 'instance', instanceId },
    });
    for (const access of [secretAccess(sim), x509Access(sim)]) {
      const client = clientFor(access);
      const fromSub = await client.getCertificate('read.pem', 'Subaccount');
      const fromInst = await client.getCertificate('read.pem', 'Instance');
      expect(fromSub).toMatchObject({ name: 'read.pem', type: 'CERTIFICATE' });
      expect(Buffer.from(fromSub?.content ?? []).equals(sub.content)).toBe(true);
      expect(Buffer.from(fromInst?.content ?? []).equals(inst.content)).toBe(true);
      expect(await client.getCertificate('absent.pem', 'Subaccount')).toBeUndefined();
    }
    const client = clientFor(secretAccess(sim));
    await client.deleteCertificate('read.pem', 'Instance');
    await client.deleteCertificate('read.pem', 'Instance');
    expect(await client.getCertificate('read.pem', 'Instance')).toBeUndefined();
    expect(await client.getCertificate('read.pem', 'Subaccount')).toBeDefined();
  });

  it('generates from a CSR: the chain comes back, the key is in no request body; a name in use is BtpConflict', async () => {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const csrPem = createCsr(
      keyPem,
      keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      'app',
    );
    const client = clientFor(x509Access(sim));
    const request = {
      name: 'generated.pem',
      level: 'Subaccount',
      commonName: 'app.example',
      validity: { unit: 'DAYS', value: 30 },
      automaticRenew: true,
      csrPem,
    } as const;
    const created = await client.createCertificate(request);
    const pem = Buffer.from(created.content).toString('utf8');
    expect(pem).not.toContain('PRIVATE KEY');
    const leaf = new X509Certificate(pem);
    expect(leaf.checkPrivateKey(keys.privateKey)).toBe(true);
    expect(leaf.subject).toContain('CN=app.example');
    const keyLines = keyPem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----'));
    for (const { body } of sim.requestBodies()) {
      for (const line of keyLines) expect(body.includes(line)).toBe(false);
    }
    const again = await failure(client.createCertificate(request));
    expect(again).toMatchObject({ code: 'BtpConflict', httpStatus: 409 });
    expect(again.message).toContain('already exists');
  });
});

describe('errors', () => {
  it('a wrong client secret is BtpUnauthorized; a valid token of a client that is no destination client is BtpForbidden (403)', async () => {
    const unauthorized = await failure(
      clientFor({ ...secretAccess(sim), clientSecret: 'not-the-secret' }).getCertificate(
        'x.pem',
        'Subaccount',
      ),
    );
    expect(unauthorized.code).toBe('BtpUnauthorized');
    const { url, clientid, clientsecret } = sim.smCredentials.secret;
    const stranger = clientFor({
      serviceUrl: sim.destinationUrl,
      tokenUrl: `${url}/oauth/token`,
      clientId: clientid,
      clientSecret: clientsecret,
    });
    const forbidden = await failure(stranger.findDestination('alm'));
    expect(forbidden).toMatchObject({ code: 'BtpForbidden', httpStatus: 403 });
    expect(forbidden.message).toContain('Forbidden');
  });

  it('retries 5xx and succeeds; ends with BtpServerError when it does not stop', async () => {
    sim.destinations.putDestination({ Name: 'flaky', URL: 'https://x.example' });
    const client = clientFor(secretAccess(sim));
    await client.findDestination('flaky');
    sim.resetCounters();
    sim.injectFault({ kind: 'status', route: 'destination.findDestination', status: 503, times: 2 });
    expect((await client.findDestination('flaky'))?.configuration.name).toBe('flaky');
    expect(sim.counters().requests['destination.findDestination']).toEqual({ 503: 2, 200: 1 });
    sim.injectFault({ kind: 'status', route: 'destination.getCertificate', status: 500, times: 10 });
    const error = await failure(client.getCertificate('x.pem', 'Subaccount'));
    expect(error).toMatchObject({ code: 'BtpServerError', httpStatus: 500, retryable: true });
    sim.clearFaults();
  });

  it('ends with BtpRateLimited carrying the delay when Retry-After is longer than the policy waits', async () => {
    sim.injectFault({
      kind: 'status',
      route: 'destination.getCertificate',
      status: 429,
      times: 1,
      retryAfter: { form: 'seconds', seconds: 120 },
    });
    const error = await failure(clientFor(secretAccess(sim)).getCertificate('x.pem', 'Subaccount'));
    expect(error).toMatchObject({ code: 'BtpRateLimited', httpStatus: 429, retryAfterMs: 120_000 });
  });

  it('honours Retry-After: the retry waits what the 429 said', async () => {
    const { clock, sim: timed, http: timedHttp, tokens: timedTokens, close } = await timedSimulator();
    try {
      const client = new DestinationClient(secretAccess(timed), {
        http: timedHttp,
        tokens: timedTokens,
        clock,
        retry: FAST_RETRY,
      });
      await client.getCertificate('warm-up-the-token', 'Subaccount');
      timed.injectFault({
        kind: 'status',
        route: 'destination.getCertificate',
        status: 429,
        times: 1,
        retryAfter: { form: 'http-date', seconds: 2 },
      });
      timed.resetCounters();
      const result = client.getCertificate('x.pem', 'Subaccount');
      expect(await retryWaitMs(clock)).toBe(2_000);
      expect(timed.counters().requests['destination.getCertificate']).toEqual({ 429: 1 });
      await clock.advance(2_000);
      expect(await result).toBeUndefined();
      expect(timed.counters().requests['destination.getCertificate']).toEqual({ 429: 1, 404: 1 });
    } finally {
      await close();
    }
  });

  it('refuses a service host outside --allowed-hosts before connecting, and an http uri', async () => {
    const fenced = httpFor(sim, {
      allowedHosts: parseAllowedHosts('destination-configuration.cfapps.*.hana.ondemand.com'),
    });
    try {
      const before = sim.counters().handshakes.destination;
      const error = await failure(clientFor(secretAccess(sim), fenced).findDestination('alm'));
      expect(error.code).toBe('BtpHostNotAllowed');
      expect(sim.counters().handshakes.destination).toBe(before);
    } finally {
      await fenced.closeAll();
    }
    expect(() => clientFor({ ...secretAccess(sim), serviceUrl: 'http://127.0.0.1:1' })).toThrow(
      /must be https/,
    );
  });
});

describe('destinationClients (the DestinationPort)', () => {
  it('one client per credential, released on demand; the port reads through it', async () => {
    const clients = destinationClients({
      clock: systemClock,
      logger: pino({ level: 'silent' }),
      extraCaPem: sim.caBundlePem,
      allowedHosts: parseAllowedHosts('127.0.0.1:*'),
    });
    try {
      const { uri, url, clientid, clientsecret } = sim.destinationCredentials.secret;
      const access: DestinationAccess = {
        serviceUrl: uri,
        tokenUrl: `${url}/oauth/token`,
        clientId: clientid,
        auth: { kind: 'secret', clientSecret: clientsecret },
      };
      const port = clients.factory(access);
      expect(clients.factory({ ...access })).toBe(port);
      await sim.destinations.seedCertificate({ name: 'port.pem' });
      expect((await port.getCertificate('port.pem', 'Subaccount'))?.name).toBe('port.pem');
      await clients.release(port);
      expect(clients.factory(access)).not.toBe(port);
    } finally {
      await clients.close();
    }
  });
});
