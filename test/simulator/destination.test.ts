// The simulator's Destination service (btp.md §6) over real TLS: access with the bindings' OAuth
// clients, stored certificates at both levels and in each format, generation from a CSR (the key
// never sent), find-destination with certificates and authTokens, the other tenant's XSUAA and
// its CA, automatic renewal on the simulator clock, the keystore faults, and the record of bodies.
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offsetClock } from '../support/btp-simulator/clock.ts';
import { requestCount } from '../support/btp-simulator/counters.ts';
import { renewBeforeMs } from '../support/btp-simulator/destination-store.ts';
import { createCsr, JKS_MAGIC } from '../support/btp-simulator/keystores.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { type Answer, agentFor, postForm, record, recordingAgent, smClient, text } from './helpers.ts';

const clock = offsetClock();
let sim: Simulator;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

beforeAll(async () => {
  sim = await startSimulator({ clock, keyPool: { size: 2 } });
});

afterAll(async () => {
  await sim.stop();
});

async function secretToken(): Promise<string> {
  const { url, clientid, clientsecret } = sim.destinationCredentials.secret;
  const answer = await postForm(agentFor(sim), `${url}/oauth/token`, {
    grant_type: 'client_credentials',
    client_id: clientid,
    client_secret: clientsecret,
  });
  return text(record(answer.body).access_token);
}

async function x509Token(): Promise<string> {
  const { certurl, clientid, certificate, key } = sim.destinationCredentials.x509;
  const agent = agentFor(sim, { cert: certificate, key });
  const answer = await postForm(agent, `${certurl}/oauth/token`, {
    grant_type: 'client_credentials',
    client_id: clientid,
  });
  await agent.close();
  return text(record(answer.body).access_token);
}

async function call(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: { token?: string | undefined; body?: unknown } = {},
): Promise<Answer> {
  const token = 'token' in options ? options.token : await secretToken();
  const response = await request(`${sim.destinationUrl}/destination-configuration/v1${path}`, {
    dispatcher: agentFor(sim),
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const bodyText = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    body: bodyText === '' ? '' : JSON.parse(bodyText),
  };
}

function content(answer: Answer): Buffer {
  return Buffer.from(text(record(answer.body).Content), 'base64');
}

function leafOf(pem: string): X509Certificate {
  return new X509Certificate(pem);
}

const pemOf = (bytes: Buffer) => bytes.toString('utf8');

/** A key pair that stays in the test, and a CSR for it (PEM). */
function keyAndCsr(commonName: string) {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const csr = createCsr(
    keyPem,
    keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    commonName,
  );
  return { keys, keyPem, csr };
}

describe('access', () => {
  it('takes tokens of the destination binding in both forms, and the binding uri names the service', async () => {
    expect(sim.destinationCredentials.secret.uri).toBe(sim.destinationUrl);
    expect((await call('GET', '/subaccountCertificates', { token: await secretToken() })).status).toBe(200);
    expect((await call('GET', '/subaccountCertificates', { token: await x509Token() })).status).toBe(200);
  });

  it('refuses no token (401) and a token of a client that is not a destination client (403)', async () => {
    expect((await call('GET', '/subaccountCertificates', { token: undefined })).status).toBe(401);
    const { url, clientid, clientsecret } = sim.smCredentials.secret;
    const answer = await postForm(agentFor(sim), `${url}/oauth/token`, {
      grant_type: 'client_credentials',
      client_id: clientid,
      client_secret: clientsecret,
    });
    const forbidden = await call('GET', '/subaccountCertificates', {
      token: text(record(answer.body).access_token),
    });
    expect(forbidden.status).toBe(403);
    expect(record(forbidden.body).ErrorMessage).toMatch(/Forbidden/);
  });

  it('serves a destination binding created through the Service Manager, at its instance level', async () => {
    const sm = await smClient(sim);
    const instanceId = sim.instance('destination-lite').id;
    const created = await sm.call('POST', '/v1/service_bindings', {
      name: 'dest-binding',
      service_instance_id: instanceId,
      parameters: {},
    });
    await sm.close();
    const credentials = record(record(created.body).credentials);
    expect(credentials.uri).toBe(sim.destinationUrl);
    const answer = await postForm(agentFor(sim), `${text(credentials.url)}/oauth/token`, {
      grant_type: 'client_credentials',
      client_id: text(credentials.clientid),
      client_secret: text(credentials.clientsecret),
    });
    const token = text(record(answer.body).access_token);
    const body = { Name: 'via-sm.pem', Content: Buffer.from('x').toString('base64') };
    expect((await call('POST', '/instanceCertificates', { token, body })).status).toBe(201);
    expect(sim.destinations.certificates().find((file) => file.name === 'via-sm.pem')?.instanceId).toBe(
      instanceId,
    );
  });
});

describe('stored certificates', () => {
  it('uploads, reads, lists and deletes a file at the subaccount level; 409 for a name in use', async () => {
    const file = Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const body = { Name: 'upload.pem', Type: 'CERTIFICATE', Content: file.toString('base64') };
    expect((await call('POST', '/subaccountCertificates', { body })).status).toBe(201);
    expect((await call('POST', '/subaccountCertificates', { body })).status).toBe(409);
    const read = await call('GET', '/subaccountCertificates/upload.pem');
    expect(read.status).toBe(200);
    expect(record(read.body)).toMatchObject({ Name: 'upload.pem', Type: 'CERTIFICATE' });
    expect(content(read).equals(file)).toBe(true);
    const list = await call('GET', '/subaccountCertificates');
    expect((list.body as { Name: string }[]).map((entry) => entry.Name)).toContain('upload.pem');
    expect((await call('DELETE', '/subaccountCertificates/upload.pem')).status).toBe(200);
    const gone = await call('GET', '/subaccountCertificates/upload.pem');
    expect(gone.status).toBe(404);
    expect(record(gone.body).ErrorMessage).toBeTypeOf('string');
    expect((await call('DELETE', '/subaccountCertificates/upload.pem')).status).toBe(404);
  });

  it('keeps the instance level apart from the subaccount level', async () => {
    const body = { Name: 'level.pem', Content: Buffer.from('instance').toString('base64') };
    expect((await call('POST', '/instanceCertificates', { body })).status).toBe(201);
    expect((await call('GET', '/instanceCertificates/level.pem')).status).toBe(200);
    expect((await call('GET', '/subaccountCertificates/level.pem')).status).toBe(404);
    const summary = sim.destinations.certificates().find((file) => file.name === 'level.pem');
    expect(summary).toMatchObject({ level: 'instance', instanceId: sim.instance('destination-lite').id });
  });

  it('seeds PEM (chain and key), PKCS#12 that opens with its password, and JKS that is only recognisable', async () => {
    const pem = await sim.destinations.seedCertificate({ name: 'seed.pem' });
    const pemFile = pemOf(content(await call('GET', '/subaccountCertificates/seed.pem')));
    expect(pemFile).toContain('-----BEGIN PRIVATE KEY-----');
    expect(pemFile.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    expect(leafOf(pemFile).checkPrivateKey(createPrivateKey(pem.keyPem))).toBe(true);
    expect(
      leafOf(pemFile).checkIssued(new X509Certificate(pemFile.split(/(?=-----BEGIN CERTIFICATE)/)[1] ?? '')),
    ).toBe(true);

    const p12 = await sim.destinations.seedCertificate({ name: 'seed.p12', password: 's3cret' });
    const p12File = content(await call('GET', '/subaccountCertificates/seed.p12'));
    const opened = forge.pkcs12.pkcs12FromAsn1(
      forge.asn1.fromDer(forge.util.createBuffer(p12File.toString('binary'))),
      's3cret',
    );
    const keyBags = opened.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag ?? '' });
    expect(Object.values(keyBags).flat()).toHaveLength(1);
    expect(() =>
      forge.pkcs12.pkcs12FromAsn1(
        forge.asn1.fromDer(forge.util.createBuffer(p12File.toString('binary'))),
        'wrong',
      ),
    ).toThrow();
    expect(p12.fingerprint256).toBe(new X509Certificate(p12.chainPem).fingerprint256);

    await sim.destinations.seedCertificate({ name: 'seed.jks' });
    const jks = content(await call('GET', '/subaccountCertificates/seed.jks'));
    expect(jks.subarray(0, 4).equals(JKS_MAGIC)).toBe(true);
  });
});

describe('generation', () => {
  it('signs a CSR with the other tenant CA and returns the chain only; the key is in no request body', async () => {
    const { keys, keyPem, csr } = keyAndCsr('ignored');
    const answer = await call('POST', '/subaccountCertificates', {
      body: {
        Name: 'csr.pem',
        Attributes: {
          CN: 'workload.example',
          Validity: { TimeUnit: 'DAYS', Value: 30 },
          AutomaticRenew: true,
          CSR: Buffer.from(csr).toString('base64'),
        },
      },
    });
    expect(answer.status).toBe(201);
    const file = pemOf(content(answer));
    expect(file).not.toContain('PRIVATE KEY');
    const leaf = leafOf(file);
    expect(leaf.subject).toContain('CN=workload.example');
    expect(leaf.checkPrivateKey(keys.privateKey)).toBe(true);
    expect(new X509Certificate(file.split(/(?=-----BEGIN CERTIFICATE)/)[2] ?? '').fingerprint256).toBe(
      new X509Certificate(sim.otherTenant.caPem).fingerprint256,
    );
    const keyLines = keyPem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----'));
    const bodies = sim.requestBodies().map((entry) => entry.body);
    expect(bodies.some((body) => body.includes(Buffer.from(csr).toString('base64')))).toBe(true);
    for (const line of keyLines) expect(bodies.some((body) => body.includes(line))).toBe(false);
  });

  it('without a CSR generates the key too and returns it with the chain', async () => {
    const answer = await call('POST', '/subaccountCertificates', {
      body: { Name: 'gen.pem', Attributes: { CN: 'gen', Validity: { TimeUnit: 'DAYS', Value: 7 } } },
    });
    expect(answer.status).toBe(201);
    const file = pemOf(content(answer));
    expect(leafOf(file).checkPrivateKey(createPrivateKey(file))).toBe(true);
    const leaf = leafOf(file);
    expect(new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()).toBe(7 * DAY_MS);
  });

  it('refuses a CSR whose signature does not verify, and generation into a P12 name', async () => {
    const bad = await call('POST', '/subaccountCertificates', {
      body: {
        Name: 'bad.pem',
        Attributes: {
          CN: 'x',
          Validity: { TimeUnit: 'DAYS', Value: 1 },
          CSR: Buffer.from('nonsense').toString('base64'),
        },
      },
    });
    expect(bad.status).toBe(400);
    const p12 = await call('POST', '/subaccountCertificates', {
      body: { Name: 'gen.p12', Attributes: { CN: 'x', Validity: { TimeUnit: 'DAYS', Value: 1 } } },
    });
    expect(p12.status).toBe(400);
  });
});

describe('destinations and the other tenant', () => {
  it('find-destination carries the keystore of a ClientCertificateAuthentication destination', async () => {
    await sim.destinations.seedCertificate({ name: 'alm.p12', password: 'pw' });
    sim.destinations.putDestination({
      Name: 'cloud-alm',
      Type: 'HTTP',
      URL: 'https://alm.example',
      Authentication: 'ClientCertificateAuthentication',
      KeyStoreLocation: 'alm.p12',
      KeyStorePassword: 'pw',
    });
    const found = await call('GET', '/destinations/cloud-alm');
    expect(found.status).toBe(200);
    const body = record(found.body);
    expect(record(body.owner).SubaccountId).toBe(sim.subaccountId);
    expect(record(body.destinationConfiguration)).toMatchObject({
      Name: 'cloud-alm',
      KeyStoreLocation: 'alm.p12',
    });
    expect((body.certificates as { Name: string }[]).map((entry) => entry.Name)).toEqual(['alm.p12']);
    expect(body.authTokens).toBeUndefined();
    expect((await call('GET', '/destinations/nothing-here')).status).toBe(404);
  });

  it('an OAuth2ClientCredentials destination: its certificate gets a token from the other tenant, ours fails the handshake', async () => {
    const seeded = await sim.destinations.seedCertificate({ name: 'oauth.pem' });
    sim.destinations.putDestination({
      Name: 'alm-oauth',
      Type: 'HTTP',
      URL: 'https://alm.example/api',
      Authentication: 'OAuth2ClientCredentials',
      tokenServiceURL: `${sim.otherTenant.certurl}/oauth/token`,
      clientId: 'alm-client',
      KeyStoreLocation: 'oauth.pem',
    });
    const found = record((await call('GET', '/destinations/alm-oauth')).body);
    const tokens = found.authTokens as Record<string, unknown>[];
    expect(tokens[0]).toMatchObject({ type: 'bearer' });

    const agent = agentFor(sim, { cert: seeded.chainPem, key: seeded.keyPem });
    const granted = await postForm(agent, `${sim.otherTenant.certurl}/oauth/token`, {
      grant_type: 'client_credentials',
      client_id: 'alm-client',
    });
    expect(granted.status).toBe(200);
    const refused = await postForm(agent, `${sim.otherTenant.certurl}/oauth/token`, {
      grant_type: 'client_credentials',
      client_id: 'someone-else',
    });
    expect(refused.status).toBe(401);
    await agent.close();

    const before = sim.counters().handshakeFailures.otherXsuaaCert;
    const { certificate, key } = sim.smCredentials.x509;
    const { agent: wrong } = recordingAgent(sim.caBundlePem, { cert: certificate, key });
    await expect(
      postForm(wrong, `${sim.otherTenant.certurl}/oauth/token`, {
        grant_type: 'client_credentials',
        client_id: 'alm-client',
      }),
    ).rejects.toThrow();
    await wrong.close();
    const after = sim.counters().handshakeFailures.otherXsuaaCert;
    const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
    expect(total(after)).toBeGreaterThan(total(before));

    sim.destinations.removeCertificate('oauth.pem');
    const revoked = await postForm(
      agentFor(sim, { cert: seeded.chainPem, key: seeded.keyPem }),
      `${sim.otherTenant.certurl}/oauth/token`,
      {
        grant_type: 'client_credentials',
        client_id: 'alm-client',
      },
    );
    expect(revoked.status).toBe(401);
  });

  it('an instance-level destination is found before a subaccount one of the same name', async () => {
    const instanceId = sim.instance('destination-lite').id;
    sim.destinations.putDestination({ Name: 'twice', URL: 'https://sub.example' });
    sim.destinations.putDestination(
      { Name: 'twice', URL: 'https://inst.example' },
      { level: 'instance', instanceId },
    );
    const body = record((await call('GET', '/destinations/twice')).body);
    expect(record(body.destinationConfiguration).URL).toBe('https://inst.example');
    expect(record(body.owner).InstanceId).toBe(instanceId);
  });
});

describe('faults', () => {
  it('wrongPassword, corruptKeystore and missingCertificate act on the named file', async () => {
    await sim.destinations.seedCertificate({ name: 'faulty.p12', password: 'pw' });
    const open = (bytes: Buffer) =>
      forge.pkcs12.pkcs12FromAsn1(
        forge.asn1.fromDer(forge.util.createBuffer(bytes.toString('binary'))),
        'pw',
      );
    sim.injectFault({ kind: 'keystore', defect: 'wrongPassword', certificate: 'faulty.p12', times: 1 });
    const wrong = content(await call('GET', '/subaccountCertificates/faulty.p12'));
    expect(() => open(wrong)).toThrow();
    const good = content(await call('GET', '/subaccountCertificates/faulty.p12'));
    expect(() => open(good)).not.toThrow();

    sim.injectFault({ kind: 'keystore', defect: 'corruptKeystore', certificate: 'faulty.p12', times: 1 });
    const corrupt = content(await call('GET', '/subaccountCertificates/faulty.p12'));
    expect(corrupt.length).toBe(Math.floor(good.length / 2));

    sim.injectFault({ kind: 'keystore', defect: 'missingCertificate', certificate: 'faulty.p12', times: 1 });
    expect((await call('GET', '/subaccountCertificates/faulty.p12')).status).toBe(404);
    expect((await call('GET', '/subaccountCertificates/faulty.p12')).status).toBe(200);
  });

  it('answers 429 with Retry-After and 5xx from status faults, and records the bodies of faulted requests', async () => {
    sim.injectFault({
      kind: 'status',
      route: 'destination.getCertificate',
      status: 429,
      times: 1,
      retryAfter: { form: 'seconds', seconds: 7 },
    });
    const limited = await call('GET', '/subaccountCertificates/anything');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    expect(record(limited.body).ErrorMessage).toBeTypeOf('string');
    sim.injectFault({ kind: 'status', route: 'destination.createCertificate', status: 503, times: 1 });
    const marker = Buffer.from('faulted-body-marker').toString('base64');
    const failed = await call('POST', '/subaccountCertificates', {
      body: { Name: 'f.pem', Content: marker },
    });
    expect(failed.status).toBe(503);
    expect(requestCount(sim.counters(), 'destination.createCertificate', 503)).toBe(1);
    expect(
      sim
        .requestBodies()
        .some((entry) => entry.route === 'destination.createCertificate' && entry.body.includes(marker)),
    ).toBe(true);
    expect(sim.requestBodies().some((entry) => entry.route === 'xsuaa.token')).toBe(true);
  });
});

// Last: it moves the simulator clock ahead of real time, and TLS checks validity in real time.
describe('automatic renewal on the simulator clock', () => {
  it('renews a 1-day certificate 12 h before expiry, keeping the CSR key, and not when switched off', async () => {
    expect(renewBeforeMs(DAY_MS)).toBe(12 * HOUR_MS);
    expect(renewBeforeMs(365 * DAY_MS)).toBe(30 * DAY_MS);
    const { keys, csr } = keyAndCsr('renew');
    const created = await call('POST', '/subaccountCertificates', {
      body: {
        Name: 'renew.pem',
        Attributes: { CN: 'renew', Validity: { TimeUnit: 'DAYS', Value: 1 }, AutomaticRenew: true, CSR: csr },
      },
    });
    const first = leafOf(pemOf(content(created)));
    clock.advance(11 * HOUR_MS);
    expect(
      leafOf(pemOf(content(await call('GET', '/subaccountCertificates/renew.pem')))).fingerprint256,
    ).toBe(first.fingerprint256);
    clock.advance(2 * HOUR_MS);
    const renewed = leafOf(pemOf(content(await call('GET', '/subaccountCertificates/renew.pem'))));
    expect(renewed.fingerprint256).not.toBe(first.fingerprint256);
    expect(new Date(renewed.validFrom).getTime()).toBe(new Date(first.validTo).getTime() - 12 * HOUR_MS);
    expect(renewed.checkPrivateKey(keys.privateKey)).toBe(true);
    expect(sim.destinations.certificates().find((file) => file.name === 'renew.pem')?.renewals).toBe(1);

    sim.updateSettings({ destinationAutoRenew: false });
    clock.advance(DAY_MS);
    const held = leafOf(pemOf(content(await call('GET', '/subaccountCertificates/renew.pem'))));
    expect(held.fingerprint256).toBe(renewed.fingerprint256);
    sim.updateSettings({ destinationAutoRenew: true });
  });

  it('replaces a key it generated itself, and catches up on several periods in one read', async () => {
    const created = await call('POST', '/subaccountCertificates', {
      body: {
        Name: 'own-key.pem',
        Attributes: { CN: 'own', Validity: { TimeUnit: 'HOURS', Value: 10 }, AutomaticRenew: true },
      },
    });
    const firstFile = pemOf(content(created));
    const first = leafOf(firstFile);
    // 10 h lifetime: renewed 5 h before expiry, i.e. every 5 h; 16 h later that is three renewals.
    clock.advance(16 * HOUR_MS);
    const file = pemOf(content(await call('GET', '/subaccountCertificates/own-key.pem')));
    const renewed = leafOf(file);
    expect(renewed.checkPrivateKey(createPrivateKey(file))).toBe(true);
    expect(renewed.checkPrivateKey(createPrivateKey(firstFile))).toBe(false);
    expect(new Date(renewed.validFrom).getTime()).toBe(new Date(first.validFrom).getTime() + 15 * HOUR_MS);
    expect(sim.destinations.certificates().find((entry) => entry.name === 'own-key.pem')?.renewals).toBe(3);
  });
});
