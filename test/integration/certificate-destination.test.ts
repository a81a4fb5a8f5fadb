// Source `destination` (issue 12) against the real control plane and the simulator's Destination
// service over TLS: stored certificates in each format and at each level, a destination's keystore
// and its token check at the other tenant's XSUAA (and a certificate of the wrong tenant failing
// that handshake), a wrong password (its own reason, the Secret untouched), JKS, a key generated
// here with a CSR (the key in no request body and no log line), and renewal by the service picked
// up before expiry, or Expiring when none comes.

import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CoreV1Api } from '@kubernetes/client-node';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Clock, systemClock } from '../../src/runtime/clock.ts';
import { agentFor, postForm } from '../simulator/helpers.ts';
import { offsetClock } from '../support/btp-simulator/clock.ts';
import { csrPublicKey } from '../support/btp-simulator/keystores.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { Certificates, decoded } from '../support/btpcert.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'btpcert-destination');
// Shared by the simulator and the operator; moved ahead only by the last tests.
const clock = offsetClock();
const HOUR_MS = 3_600_000;

let sim: Simulator;
let operator: RunningOperator;
let certs: Certificates;

const binding = () => ({ credentialsSecretRef: { name: 'destination-binding' } });

async function putSecret(name: string, stringData: Record<string, string>): Promise<void> {
  try {
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData } });
  } catch {
    await core.replaceNamespacedSecret({ namespace: ns, name, body: { metadata: { name }, stringData } });
  }
}

/** A call to the simulator's Destination service as its own client (the cockpit, in a test). */
async function destinationApi(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const { url, clientid, clientsecret } = sim.destinationCredentials.secret;
  const token = await postForm(agentFor(sim), `${url}/oauth/token`, {
    grant_type: 'client_credentials',
    client_id: clientid,
    client_secret: clientsecret,
  });
  const accessToken = (token.body as { access_token: string }).access_token;
  const response = await request(`${sim.destinationUrl}/destination-configuration/v1${path}`, {
    dispatcher: agentFor(sim),
    method,
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** A BTPCertificate of a stored certificate (Secret `<name>-tls`). */
async function createStored(
  name: string,
  certificateName: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await certs.create(name, {
    secretName: `${name}-tls`,
    source: { destination: { ...binding(), certificateName, ...extra } },
  });
}

/** A BTPCertificate whose key is generated here (Secret `<name>-tls`, stored as `<name>.pem`), once Ready. */
async function generatedReady(name: string, days: number): Promise<void> {
  await certs.create(name, {
    secretName: `${name}-tls`,
    source: {
      destination: {
        ...binding(),
        certificateName: `${name}.pem`,
        generate: { commonName: name, validity: { value: days, timeUnit: 'DAYS' } },
      },
    },
  });
  await certs.waitForCondition(name, 'Ready', { status: 'True', reason: 'Issued' });
}

const fingerprintOf = (pem: string | undefined) => new X509Certificate(pem ?? '').fingerprint256;

/**
 * Every text a request body carries: the body, each string value of its JSON or form fields
 * (recursively), and the base64 decoding of each: the CSR travels as base64(PEM) in Attributes.CSR,
 * and a key encoded so would never show its base64 body in the raw text.
 */
function carriedTexts(body: string): string[] {
  const out = [body];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') out.push(value, Buffer.from(value, 'base64').toString('utf8'));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(walk);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = Object.fromEntries(new URLSearchParams(body));
  }
  walk(parsed);
  return out;
}

/** No body the simulator received carries the key, in any of the encodings carriedTexts undoes. */
function expectKeyInNoBody(keyPem: string): void {
  const keyBody = keyPem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'))[1] ?? '';
  expect(keyBody.length).toBeGreaterThan(40);
  // The check sees a key sent as base64(PEM) inside a JSON field, as the CSR is sent.
  const smuggled = JSON.stringify({ Attributes: { CSR: Buffer.from(keyPem).toString('base64') } });
  expect(carriedTexts(smuggled).some((text) => text.includes(keyBody))).toBe(true);
  for (const body of sim.requestBodies()) {
    for (const text of carriedTexts(body.body)) {
      expect(text).not.toContain(keyBody);
    }
  }
}

/** The requests for `name` carry a CSR and no private key; the last CSR is for the public key of `keyPem`. */
function expectCsrFor(name: string, keyPem: string): void {
  const spki = (pem: string) =>
    createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('base64');
  const requests = sim
    .requestBodies()
    .filter((b) => b.route === 'destination.createCertificate')
    .filter((b) => (JSON.parse(b.body) as { Name?: string }).Name === name);
  expect(requests.length).toBeGreaterThan(0);
  for (const r of requests) {
    for (const text of carriedTexts(r.body)) expect(text).not.toContain('PRIVATE KEY');
  }
  const csrs = requests.map((r) => JSON.parse(r.body) as { Attributes?: { CSR?: string } });
  const last = Buffer.from(csrs.at(-1)?.Attributes?.CSR ?? '', 'base64').toString('utf8');
  expect(last).toContain('CERTIFICATE REQUEST');
  expect(spki(csrPublicKey(last)?.publicKeyPem ?? '')).toBe(spki(keyPem));
}

beforeAll(async () => {
  sim = await startSimulator({ clock, keyPool: { size: 8 } });
  await putSecret('destination-binding', {
    uri: sim.destinationCredentials.secret.uri,
    clientid: sim.destinationCredentials.secret.clientid,
    clientsecret: sim.destinationCredentials.secret.clientsecret,
    url: sim.destinationCredentials.secret.url,
  });
  const operatorClock: Clock = {
    now: () => new Date(clock.now()),
    nowMs: () => clock.now(),
    setTimer: (fn, ms) => systemClock.setTimer(fn, ms),
  };
  operator = startOperator(kc, { namespaces: [ns], clock: operatorClock, btpCaPem: sim.caBundlePem });
  // No token defaults: a certificateName source is not token-checked, whatever spec.token holds by default.
  certs = new Certificates(kc, ns);
});

afterAll(async () => {
  await operator?.stop();
  await sim?.stop();
});

describe('stored certificates', () => {
  it('PEM at subaccount level: chain and key in one file', async () => {
    const seeded = await sim.destinations.seedCertificate({ name: 'partner.pem' });
    await createStored('pem', 'partner.pem');
    const ready = await certs.waitForCondition('pem', 'Ready', { status: 'True', reason: 'Issued' });
    // Regression: the default token {} had this Ready=False/NoTokenEndpoint and Stalled.
    const conditions = ready.status?.conditions ?? [];
    expect(conditions.find((c) => c.type === 'TokenReady')).toMatchObject({
      status: 'Unknown',
      reason: 'Disabled',
      message: expect.stringContaining('the token check does not apply'),
    });
    expect(conditions.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'False' });
    const secret = await certs.secret('pem-tls');
    expect(fingerprintOf(decoded(secret, 'tls.crt'))).toBe(seeded.fingerprint256);
    expect(decoded(secret, 'Name')).toBe('partner.pem');
  });

  it('PKCS#12 at instance level, with passwordSecretRef', async () => {
    const instanceId = sim.instance('destination-lite').id;
    const seeded = await sim.destinations.seedCertificate({
      name: 'partner.p12',
      password: 'p12-secret',
      owner: { level: 'instance', instanceId },
    });
    await putSecret('partner-keystore', { password: 'p12-secret' });
    await createStored('p12', 'partner.p12', {
      level: 'Instance',
      passwordSecretRef: { name: 'partner-keystore', key: 'password' },
    });
    await certs.waitForCondition('p12', 'Ready', { status: 'True', reason: 'Issued' });
    expect(fingerprintOf(decoded(await certs.secret('p12-tls'), 'tls.crt'))).toBe(seeded.fingerprint256);
    // The subaccount level has no such file.
    await createStored('p12-subaccount', 'partner.p12', {
      passwordSecretRef: { name: 'partner-keystore', key: 'password' },
    });
    await certs.waitForCondition('p12-subaccount', 'Ready', { status: 'False', reason: 'SourceNotFound' });
  });

  it('a wrong password: KeystorePasswordIncorrect, and the Secret keeps the last credentials', async () => {
    await sim.destinations.seedCertificate({ name: 'locked.p12', password: 'right' });
    await putSecret('locked-keystore', { password: 'right' });
    await createStored('locked', 'locked.p12', {
      passwordSecretRef: { name: 'locked-keystore', key: 'password' },
    });
    await certs.waitForCondition('locked', 'Ready', { status: 'True', reason: 'Issued' });
    const before = await certs.secret('locked-tls');
    await putSecret('locked-keystore', { password: 'wrong' });
    const failed = await certs.waitForCondition('locked', 'Ready', {
      status: 'False',
      reason: 'KeystorePasswordIncorrect',
    });
    const message = failed.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
    expect(message).not.toContain('wrong');
    expect(message).not.toContain('right');
    const after = await certs.secret('locked-tls');
    expect(after?.data).toEqual(before?.data);
    expect(after?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
    expect((await certs.events('locked')).map((e) => e.reason)).toContain('KeystorePasswordIncorrect');
  });

  it('JKS: UnsupportedKeystoreFormat, saying to store it as PKCS#12 or PEM', async () => {
    await sim.destinations.seedCertificate({ name: 'java.jks' });
    await createStored('jks', 'java.jks');
    const cert = await certs.waitForCondition('jks', 'Ready', {
      status: 'False',
      reason: 'UnsupportedKeystoreFormat',
    });
    const message = cert.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
    expect(message).toContain('PKCS#12');
    expect(message).toContain('PEM');
    expect(await certs.secret('jks-tls')).toBeUndefined();
  });
});

describe('faults of the Destination service', () => {
  it('a corrupt keystore is InvalidKeystore; nothing is written', async () => {
    await sim.destinations.seedCertificate({ name: 'corrupt.p12', password: 'pw' });
    await putSecret('corrupt-keystore', { password: 'pw' });
    const fault = sim.injectFault({
      kind: 'keystore',
      defect: 'corruptKeystore',
      certificate: 'corrupt.p12',
    });
    await createStored('corrupt', 'corrupt.p12', {
      passwordSecretRef: { name: 'corrupt-keystore', key: 'password' },
    });
    await certs.waitForCondition('corrupt', 'Ready', { status: 'False', reason: 'InvalidKeystore' });
    sim.removeFault(fault);
    expect(await certs.secret('corrupt-tls')).toBeUndefined();
  });

  it('429s: DestinationServiceError, then Ready once the service answers again', async () => {
    await sim.destinations.seedCertificate({ name: 'busy.pem' });
    const fault = sim.injectFault({
      kind: 'status',
      route: 'destination.getCertificate',
      status: 429,
      times: 1000,
      retryAfter: { form: 'seconds', seconds: 1 },
    });
    await createStored('busy', 'busy.pem');
    await certs.waitForCondition('busy', 'Ready', { status: 'False', reason: 'DestinationServiceError' });
    sim.removeFault(fault);
    await certs.waitForCondition('busy', 'Ready', { status: 'True', reason: 'Issued' }, 120_000);
  });
});

describe('destinations', () => {
  it("a ClientCertificateAuthentication destination's PKCS#12 keystore, with its KeyStorePassword", async () => {
    const seeded = await sim.destinations.seedCertificate({ name: 'alm.p12', password: 'alm-pw' });
    sim.destinations.putDestination({
      Name: 'cloud-alm',
      Type: 'HTTP',
      URL: 'https://alm.example/api',
      Authentication: 'ClientCertificateAuthentication',
      KeyStoreLocation: 'alm.p12',
      KeyStorePassword: 'alm-pw',
    });
    await certs.create('alm', {
      secretName: 'alm-tls',
      source: { destination: { ...binding(), destinationName: 'cloud-alm' } },
      // A ClientCertificateAuthentication destination names no token endpoint.
      token: { check: false },
    });
    await certs.waitForCondition('alm', 'Ready', { status: 'True', reason: 'Issued' });
    const secret = await certs.secret('alm-tls');
    expect(fingerprintOf(decoded(secret, 'tls.crt'))).toBe(seeded.fingerprint256);
    expect(decoded(secret, 'URL')).toBe('https://alm.example/api');
    expect(decoded(secret, 'Name')).toBe('cloud-alm');
  });

  it("OAuth2ClientCredentials: the token check asks the other tenant's XSUAA with the destination's clientId", async () => {
    await sim.destinations.seedCertificate({ name: 'oauth.pem' });
    const tokenServiceURL = `${sim.otherTenant.certurl}/oauth/token`;
    sim.destinations.putDestination({
      Name: 'alm-oauth',
      Type: 'HTTP',
      URL: 'https://alm.example/api',
      Authentication: 'OAuth2ClientCredentials',
      tokenServiceURL,
      clientId: 'alm-client',
      KeyStoreLocation: 'oauth.pem',
    });
    await certs.create('oauth', {
      secretName: 'oauth-tls',
      source: { destination: { ...binding(), destinationName: 'alm-oauth' } },
      token: {},
    });
    const cert = await certs.waitForCondition('oauth', 'TokenReady', {
      status: 'True',
      reason: 'TokenIssued',
    });
    expect(cert.status?.token?.endpoint).toBe(tokenServiceURL);
    const secret = await certs.secret('oauth-tls');
    expect(decoded(secret, 'tokenServiceURL')).toBe(tokenServiceURL);
    expect(decoded(secret, 'clientId')).toBe('alm-client');
  });

  it('a keystore of the wrong tenant fails the handshake at the other tenant: TLSHandshakeFailed', async () => {
    // Our subaccount's certificate, uploaded as a PEM keystore: the other tenant's CA did not issue it.
    const { certificate, key } = sim.smCredentials.x509;
    await destinationApi('POST', '/subaccountCertificates', {
      Name: 'ours.pem',
      Type: 'CERTIFICATE',
      Content: Buffer.from(key + certificate).toString('base64'),
    });
    sim.destinations.putDestination({
      Name: 'alm-wrong-tenant',
      Type: 'HTTP',
      URL: 'https://alm.example/api',
      Authentication: 'OAuth2ClientCredentials',
      tokenServiceURL: `${sim.otherTenant.certurl}/oauth/token`,
      clientId: 'alm-client',
      KeyStoreLocation: 'ours.pem',
    });
    await certs.create('wrong-tenant', {
      secretName: 'wrong-tenant-tls',
      source: { destination: { ...binding(), destinationName: 'alm-wrong-tenant' } },
      token: {},
    });
    await certs.waitForCondition('wrong-tenant', 'TokenReady', {
      status: 'False',
      reason: 'TLSHandshakeFailed',
    });
  });
});

describe('a key generated here, signed from a CSR', () => {
  it('is written with the signed chain; the key is in no request body and no log line', async () => {
    await generatedReady('generated', 7);
    const secret = await certs.secret('generated-tls');
    const key = decoded(secret, 'tls.key') ?? '';
    expect(key).toContain('PRIVATE KEY');
    const stored = sim.destinations.certificates().find((c) => c.name === 'generated.pem');
    expect(stored).toBeDefined();
    expectKeyInNoBody(key);
    expectCsrFor('generated.pem', key);
    const keyBody = key.split('\n')[1] ?? '';
    expect(readFileSync(operator.logFile, 'utf8')).not.toContain(keyBody);
    // The pending key is cleared once the TLS Secret holds it.
    const uid = (await certs.get('generated')).metadata.uid;
    await waitFor(
      async () => {
        const pending = await core.readNamespacedSecret({
          namespace: ns,
          name: `btpcert-${uid}-pending-key`,
        });
        return Object.keys(pending.data ?? {}).length === 0 ? true : undefined;
      },
      { timeoutMs: 60_000, description: 'the pending key cleared' },
    );
  });
});

describe('a pending key left by a failed CSR', () => {
  it('is cleared when generate is removed from the spec', async () => {
    const fault = sim.injectFault({
      kind: 'status',
      route: 'destination.createCertificate',
      status: 503,
      times: 1000,
    });
    await certs.create('abandoned', {
      secretName: 'abandoned-tls',
      source: {
        destination: {
          ...binding(),
          certificateName: 'abandoned.pem',
          generate: { commonName: 'abandoned' },
        },
      },
    });
    await certs.waitForCondition('abandoned', 'Ready', {
      status: 'False',
      reason: 'DestinationServiceError',
    });
    sim.removeFault(fault);
    const uid = (await certs.get('abandoned')).metadata.uid;
    const pendingData = async () =>
      (await core.readNamespacedSecret({ namespace: ns, name: `btpcert-${uid}-pending-key` })).data ?? {};
    expect(Object.keys(await pendingData())).toEqual(['pending.key']);
    // The same name now read as a stored certificate: the pending key is of no use any more.
    await sim.destinations.seedCertificate({ name: 'abandoned.pem' });
    // A merge patch: null removes generate.
    await certs.patchSpec('abandoned', {
      source: { destination: { ...binding(), certificateName: 'abandoned.pem', generate: null } },
    } as never);
    await certs.waitForCondition('abandoned', 'Ready', { status: 'True', reason: 'Issued' });
    await waitFor(async () => (Object.keys(await pendingData()).length === 0 ? true : undefined), {
      timeoutMs: 60_000,
      description: 'the pending key cleared',
    });
  });
});

// Last: these move the shared clock ahead of real time.
describe('renewal by the Destination service', () => {
  async function generatedBySimulator(name: string, automaticRenew: boolean): Promise<void> {
    await destinationApi('POST', '/subaccountCertificates', {
      Name: name,
      Attributes: { CN: name, Validity: { TimeUnit: 'DAYS', Value: 1 }, AutomaticRenew: automaticRenew },
    });
  }
  const wake = (name: string) => certs.annotate(name, { 'test/wake': String(clock.now()) });

  it('a renewed certificate is picked up before this resource is due to expire', async () => {
    await generatedBySimulator('renewing.pem', true);
    await createStored('renewing', 'renewing.pem');
    await certs.waitForCondition('renewing', 'Ready', { status: 'True', reason: 'Issued' });
    const first = fingerprintOf(decoded(await certs.secret('renewing-tls'), 'tls.crt'));
    // The service renews 12 h before expiry; this resource's renewal time is 8 h before it.
    clock.advance(16 * HOUR_MS + 60_000);
    await wake('renewing');
    await waitFor(
      async () => {
        const now = fingerprintOf(decoded(await certs.secret('renewing-tls'), 'tls.crt'));
        return now !== first ? now : undefined;
      },
      { timeoutMs: 60_000, description: 'the renewed certificate in the Secret' },
    );
    const cert = await certs.waitForCondition('renewing', 'Renewal', { status: 'False', reason: 'NotDue' });
    expect(new Date(cert.status?.notAfter ?? 0).getTime()).toBeGreaterThan(clock.now() + 12 * HOUR_MS);
  });

  it('Expiring, with a Warning Event, when no renewed certificate appears by 10 % of the lifetime', async () => {
    await generatedBySimulator('stale.pem', false);
    await createStored('stale', 'stale.pem');
    await certs.waitForCondition('stale', 'Ready', { status: 'True', reason: 'Issued' });
    clock.advance(17 * HOUR_MS);
    await wake('stale');
    await certs.waitForCondition('stale', 'Renewal', { status: 'True', reason: 'Renewing' });
    clock.advance(5 * HOUR_MS);
    await wake('stale');
    await certs.waitForCondition('stale', 'Renewal', { status: 'False', reason: 'Expiring' });
    expect(await certs.events('stale')).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'Expiring' }),
    );
  });

  it('a generated certificate is renewed with a new key and CSR; the old one stays until the new one is written', async () => {
    await generatedReady('rotating', 1);
    const before = await certs.secret('rotating-tls');
    const posts = () => sim.requestBodies().filter((b) => b.route === 'destination.createCertificate').length;
    const postsBefore = posts();
    clock.advance(17 * HOUR_MS);
    await wake('rotating');
    const after = await waitFor(
      async () => {
        const secret = await certs.secret('rotating-tls');
        return decoded(secret, 'tls.key') !== decoded(before, 'tls.key') ? secret : undefined;
      },
      { timeoutMs: 60_000, description: 'a new key in the Secret' },
    );
    expect(fingerprintOf(decoded(after, 'tls.crt'))).not.toBe(fingerprintOf(decoded(before, 'tls.crt')));
    expect(posts()).toBe(postsBefore + 1);
    await certs.waitForCondition('rotating', 'Renewal', { status: 'False', reason: 'NotDue' });
    expectKeyInNoBody(decoded(after, 'tls.key') ?? '');
    expectCsrFor('rotating.pem', decoded(after, 'tls.key') ?? '');
  });
});
