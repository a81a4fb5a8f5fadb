// The token check against the real control plane and the BTP simulator over real mTLS: each
// TokenReady reason produced by the simulator, Ready following it, a revoked binding found at the
// next check, a Service Manager rotation held back by a new certificate that fails the check,
// connection reuse, the per-resource CA bundle, and the optional token Secret.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BTPCertificateSpec } from '../../src/api/types.ts';
import { createX509Binding, smClient } from '../simulator/helpers.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../support/btp-simulator/sm-credentials.ts';
import { Certificates, decoded } from '../support/btpcert.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'btpcert-token');
const untrusting = testNamespace(kc, 'btpcert-token-ca');

/** Short tokens, so that the token Secret's refresh at 2/3 of the lifetime happens within the test. */
const TOKEN_SECONDS = 12;
/** The operator gives up on one check after this long (the slow-server case). */
const CHECK_TIMEOUT_MS = 5_000;

let sim: Simulator;
let operator: RunningOperator;
let certs: Certificates;
let issued = 0;

beforeAll(async () => {
  sim = await startSimulator({ tokenExpiresInSeconds: TOKEN_SECONDS, keyPool: { size: 8 } });
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'sm-access' }, stringData: kymaSecretData(sim.smCredentials.x509) },
  });
  operator = startOperator(kc, {
    namespaces: [ns],
    btpCaPem: sim.caBundlePem,
    tokenCheckTimeoutMs: CHECK_TIMEOUT_MS,
  });
  certs = new Certificates(kc, ns);
});
afterAll(async () => {
  await operator?.stop();
  await sim?.stop();
});

/** A fresh x509 binding of the simulator, its fields as a Secret source would hold them. */
async function binding(edit: (fields: Record<string, string>) => void = () => {}) {
  issued += 1;
  // A client per binding: the simulator's tokens live 12 s here.
  const sm = await smClient(sim);
  const b = await createX509Binding(sm, sim.instance('xsuaa-application').id, `token-test-${issued}`).finally(
    () => sm.close(),
  );
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.credentials))
    fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
  edit(fields);
  return { id: b.id, fields };
}

/** A BTPCertificate over a Secret source holding `fields`. */
async function certificateFor(
  name: string,
  fields: Record<string, string>,
  extra: Partial<BTPCertificateSpec> = {},
  on: Certificates = certs,
) {
  await core.createNamespacedSecret({
    namespace: on.namespace,
    body: { metadata: { name: `${name}-src` }, stringData: fields },
  });
  return on.create(name, {
    secretName: `${name}-tls`,
    source: { secret: { name: `${name}-src` } },
    ...extra,
  });
}

const tokenReady = (name: string, status: string, reason: string, timeoutMs = 60_000) =>
  certs.waitForCondition(name, 'TokenReady', { status, reason }, timeoutMs);

async function expectFailure(name: string, reason: string, messagePart: RegExp, succeededBefore = false) {
  const cert = await tokenReady(name, 'False', reason);
  const ready = cert.status?.conditions?.find((c) => c.type === 'Ready');
  expect(ready).toMatchObject({ status: 'False', reason });
  expect(cert.status?.conditions?.find((c) => c.type === 'TokenReady')?.message).toMatch(messagePart);
  expect(cert.status?.token?.failedChecks).toBeGreaterThanOrEqual(1);
  if (!succeededBefore) expect(cert.status?.token?.lastSuccessTime).toBeUndefined();
  await waitFor(
    async () => (await certs.events(name)).some((e) => e.type === 'Warning' && e.reason === reason),
    {
      description: `${reason} event`,
    },
  );
  // The Secret holds the credentials all the same (those of the source): they are valid, they just
  // do not get a token.
  const source = await core.readNamespacedSecret({ namespace: ns, name: `${name}-src` });
  const tls = await certs.secret(`${name}-tls`);
  expect(decoded(tls, 'tls.key')).toBe(decoded(source, 'key'));
  expect(new X509Certificate(decoded(tls, 'tls.crt') ?? '').fingerprint256).toBe(
    new X509Certificate(decoded(source, 'certificate') ?? '').fingerprint256,
  );
  return cert;
}

const smSource = () => ({
  serviceManager: {
    credentialsSecretRef: { name: 'sm-access' },
    serviceInstanceName: 'xsuaa-application',
    x509: { validity: 1 },
  },
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('token check', () => {
  it('proves the credentials: TokenReady=True/TokenIssued, Ready=True, status.token, the Token column', async () => {
    const { fields } = await binding();
    await certificateFor('ok', fields);
    const cert = await tokenReady('ok', 'True', 'TokenIssued');
    expect(cert.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'Issued',
    });
    // No time and no lifetime in the message (it would change with every check); status.token has them.
    expect(cert.status?.conditions?.find((c) => c.type === 'TokenReady')?.message).toBe(
      `a token was fetched over mTLS from ${sim.xsuaaCertUrl}/oauth/token (status.token.lastSuccessTime)`,
    );
    const token = cert.status?.token;
    const lifetimeS = (Date.parse(token?.expiresAt ?? '') - Date.parse(token?.lastSuccessTime ?? '')) / 1000;
    expect(Math.abs(lifetimeS - TOKEN_SECONDS)).toBeLessThanOrEqual(1);
    expect(token?.endpoint).toBe(`${sim.xsuaaCertUrl}/oauth/token`);
    expect(token?.certificateFingerprint).toBe(cert.status?.sha256Fingerprint);
    expect(token?.lastSuccessTime).toBe(token?.lastCheckTime);
    expect(Date.parse(token?.expiresAt ?? '')).toBeGreaterThan(Date.parse(token?.lastCheckTime ?? ''));
    // The next scheduled check: the default interval (1h), up to 10 % earlier.
    const next = Date.parse(token?.nextCheckTime ?? '') - Date.parse(token?.lastCheckTime ?? '');
    expect(next).toBeGreaterThan(0.89 * 3_600_000);
    expect(next).toBeLessThanOrEqual(3_600_000);
    await waitFor(async () => (await certs.events('ok')).some((e) => e.reason === 'TokenIssued'), {
      description: 'TokenIssued event',
    });

    // /metrics: the expiry and both conditions of this BTPCertificate, and the check's request.
    const metrics = (await operator.operator.metrics()).split('\n');
    const id = `namespace="${ns}",name="ok"`;
    expect(metrics).toContain(
      `btpcert_certificate_expiration_timestamp_seconds{${id},secret="ok-tls"} ${Date.parse(cert.status?.notAfter ?? '') / 1000}`,
    );
    expect(metrics).toContain(`btpcert_certificate_condition{${id},condition="TokenReady",status="True"} 1`);
    expect(metrics).toContain(`btpcert_certificate_condition{${id},condition="Ready",status="True"} 1`);
    expect(
      metrics.some((l) =>
        l.startsWith('btpcert_btp_requests_total{operation="check.xsuaa.token",outcome="200"}'),
      ),
    ).toBe(true);

    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(
      `${inject('kubeBinDir')}/kubectl`,
      ['--kubeconfig', inject('kubeconfig'), 'get', 'btpcert', 'ok', '-n', ns],
      { encoding: 'utf8' },
    );
    const [header, row] = out.trim().split('\n');
    const column = header?.split(/\s+/).indexOf('TOKEN') ?? -1;
    expect(column).toBeGreaterThan(0);
    expect(row?.split(/\s+/)[column]).toBe('TokenIssued');
    await certs.deleteAndWait('ok');
  });

  it('TLSHandshakeFailed: a certificate from another CA', async () => {
    sim.injectFault({ kind: 'credential', defect: 'foreignCa', times: 1 });
    const { fields } = await binding();
    await certificateFor('foreign', fields);
    await expectFailure('foreign', 'TLSHandshakeFailed', /refused the client certificate/);
    expect(sim.counters().handshakeFailures.xsuaaCert).not.toEqual({});
    await certs.deleteAndWait('foreign');
  });

  it('InvalidClient: a binding deleted behind the operator’s back, found at the next check', async () => {
    const { id, fields } = await binding();
    await certificateFor('revoked', fields);
    await tokenReady('revoked', 'True', 'TokenIssued');
    expect(sim.removeBinding(id)).toBe(true);
    await certs.annotate('revoked', { 'btpcerts.io/check-token-requested-at': '2026-11-28T10:00:00Z' });
    const cert = await expectFailure('revoked', 'InvalidClient', /HTTP 401/, true);
    expect(cert.status?.token?.lastCheckRequest).toBe('2026-11-28T10:00:00Z');
    // The last success of these credentials stays on record.
    expect(Date.parse(cert.status?.token?.lastSuccessTime ?? '')).toBeLessThanOrEqual(
      Date.parse(cert.status?.token?.lastCheckTime ?? ''),
    );
    await certs.deleteAndWait('revoked');
  });

  it('WrongEndpoint: x509 credentials without certurl go to the plain url, which refuses them', async () => {
    const { fields } = await binding((f) => {
      delete f.certurl;
    });
    await certificateFor('plain', fields);
    await expectFailure('plain', 'WrongEndpoint', /certurl/);
    // spec.token.url points the check at the cert endpoint: fixed.
    await certs.patchSpec('plain', { token: { url: sim.xsuaaCertUrl } });
    await tokenReady('plain', 'True', 'TokenIssued');
    await certs.waitForCondition('plain', 'Ready', { status: 'True', reason: 'Issued' });
    await certs.deleteAndWait('plain');
  });

  it('NoTokenEndpoint: neither certurl nor url', async () => {
    const { fields } = await binding((f) => {
      delete f.certurl;
      delete f.url;
    });
    await certificateFor('nowhere', fields);
    const cert = await tokenReady('nowhere', 'False', 'NoTokenEndpoint');
    expect(cert.status?.conditions?.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True' });
    await certs.deleteAndWait('nowhere');
  });

  it('RateLimited: 429 from the token endpoint, then a token once it lets up', async () => {
    const fault = sim.injectFault({ kind: 'status', route: 'xsuaa.certToken', status: 429, times: 10_000 });
    try {
      const { fields } = await binding();
      await certificateFor('limited', fields);
      const cert = await expectFailure('limited', 'RateLimited', /HTTP 429/);
      expect(cert.status?.conditions?.find((c) => c.type === 'Reconciling')).toMatchObject({
        status: 'True',
      });
    } finally {
      sim.removeFault(fault);
    }
    // Retried with backoff (10 s first), no action needed.
    await tokenReady('limited', 'True', 'TokenIssued', 90_000);
    await certs.deleteAndWait('limited');
  });

  it('Unreachable: nothing listens at the certurl', async () => {
    const port = await closedPort();
    const { fields } = await binding((f) => {
      f.certurl = `https://127.0.0.1:${port}`;
    });
    await certificateFor('down', fields);
    await expectFailure('down', 'Unreachable', /no connection/);
    await certs.deleteAndWait('down');
  });

  it('Timeout: the token endpoint answers slower than --token-check-timeout', async () => {
    const fault = sim.injectFault({ kind: 'latency', route: 'xsuaa.certToken', ms: 3 * CHECK_TIMEOUT_MS });
    try {
      const { fields } = await binding();
      await certificateFor('slow', fields);
      await expectFailure('slow', 'Timeout', /did not answer in time/);
    } finally {
      sim.removeFault(fault);
    }
    await certs.deleteAndWait('slow');
  });

  it('UnexpectedResponse: a 500, with the status in the message', async () => {
    const fault = sim.injectFault({ kind: 'status', route: 'xsuaa.certToken', status: 500, times: 10_000 });
    try {
      const { fields } = await binding();
      await certificateFor('broken', fields);
      await expectFailure('broken', 'UnexpectedResponse', /HTTP 500/);
    } finally {
      sim.removeFault(fault);
    }
    await certs.deleteAndWait('broken');
  });

  it('Disabled: check: false; Ready needs valid credentials only', async () => {
    const port = await closedPort();
    const { fields } = await binding((f) => {
      f.certurl = `https://127.0.0.1:${port}`;
    });
    await certificateFor('off', fields, { token: { check: false } });
    await tokenReady('off', 'Unknown', 'Disabled');
    await certs.waitForCondition('off', 'Ready', { status: 'True', reason: 'Issued' });
    expect((await certs.get('off')).status?.token).toBeUndefined();
    await certs.deleteAndWait('off');
  });

  it('N checks of one credential share one TLS connection', async () => {
    const { fields } = await binding();
    await certificateFor('reuse', fields);
    await tokenReady('reuse', 'True', 'TokenIssued');
    const before = sim.counters();
    const tokensBefore = before.requests['xsuaa.certToken']?.['200'] ?? 0;
    for (let i = 1; i <= 5; i++) {
      const value = `2026-11-28T11:00:0${i}Z`;
      await certs.annotate('reuse', { 'btpcerts.io/check-token-requested-at': value });
      await waitFor(async () => (await certs.get('reuse')).status?.token?.lastCheckRequest === value, {
        description: `check ${i}`,
      });
    }
    const after = sim.counters();
    expect((after.requests['xsuaa.certToken']?.['200'] ?? 0) - tokensBefore).toBe(5);
    // The first check opened the connection; the five on-demand ones came within the keep-alive.
    expect(after.handshakes.xsuaaCert - before.handshakes.xsuaaCert).toBe(0);
    // Its pool is the only one (those of the deleted BTPCertificates before it were closed), and it
    // is closed with it.
    expect(operator.operator.tokens.poolCount).toBe(1);
    await certs.deleteAndWait('reuse');
    await waitFor(() => operator.operator.tokens.poolCount === 0, { description: 'pool closed' });
  });

  it('keeps the token in a Secret and refreshes it before it expires; the token is nowhere else', async () => {
    const { fields } = await binding();
    await certificateFor('kept', fields, { token: { secretName: 'kept-token' } });
    await tokenReady('kept', 'True', 'TokenIssued');
    const first = await waitFor(() => certs.secret('kept-token'), { description: 'token Secret' });
    expect(first.type).toBe('Opaque');
    expect(decoded(first, 'token_type')?.toLowerCase()).toBe('bearer');
    const firstToken = decoded(first, 'access_token') ?? '';
    const firstExpiry = Date.parse(decoded(first, 'expires_at') ?? '');
    expect(firstToken).not.toBe('');
    // Refreshed at 2/3 of 12 s: before the first token expires, as the new token's iat says.
    const refreshed = await waitFor(
      async () => {
        const s = await certs.secret('kept-token');
        return decoded(s, 'access_token') !== firstToken ? s : undefined;
      },
      { description: 'token Secret refreshed', timeoutMs: 30_000, intervalMs: 250 },
    );
    const refreshedToken = decoded(refreshed, 'access_token') ?? '';
    const { iat } = JSON.parse(
      Buffer.from(refreshedToken.split('.')[1] ?? '', 'base64url').toString('utf8'),
    ) as {
      iat: number;
    };
    expect(iat * 1000).toBeLessThan(firstExpiry);
    expect(Date.parse(decoded(refreshed, 'expires_at') ?? '')).toBeGreaterThan(firstExpiry);

    // Deleted by someone: back at once.
    await core.deleteNamespacedSecret({ namespace: ns, name: 'kept-token' });
    await waitFor(() => certs.secret('kept-token'), { description: 'token Secret restored' });

    const cert = await certs.get('kept');
    const events = await certs.events('kept');
    const log = readFileSync(operator.logFile, 'utf8');
    for (const token of [firstToken, refreshedToken]) {
      expect(JSON.stringify(cert)).not.toContain(token);
      expect(JSON.stringify(events)).not.toContain(token);
      expect(log).not.toContain(token);
    }
    await certs.deleteAndWait('kept');
  });

  it('serviceManager: a binding deleted behind the operator’s back is reported, then replaced', async () => {
    await certs.create('healing', { secretName: 'healing-tls', source: smSource() });
    await tokenReady('healing', 'True', 'TokenIssued');
    const r1 = (await certs.get('healing')).status?.binding;
    expect(sim.removeBinding(r1?.id ?? '')).toBe(true);
    await certs.annotate('healing', { 'btpcerts.io/check-token-requested-at': 'after-removal' });
    await waitFor(
      async () =>
        (await certs.events('healing')).some((e) => e.type === 'Warning' && e.reason === 'InvalidClient'),
      { description: 'InvalidClient event' },
    );
    // A new binding is issued, checked and made current.
    const healed = await waitFor(
      async () => {
        const c = await certs.get('healing');
        const t = c.status?.conditions?.find((x) => x.type === 'TokenReady');
        return c.status?.binding?.id !== r1?.id && t?.reason === 'TokenIssued' ? c : undefined;
      },
      { description: 'a new binding, proven', timeoutMs: 90_000 },
    );
    expect(healed.status?.binding?.revision).toBe(2);
    expect(healed.status?.token?.certificateFingerprint).toBe(healed.status?.sha256Fingerprint);
    await certs.deleteAndWait('healing', 120_000);
  });

  it('serviceManager: a first binding whose certificate is refused is replaced by one that works', async () => {
    sim.injectFault({ kind: 'credential', defect: 'foreignCa', times: 1 });
    const created = await certs.create('first', { secretName: 'first-tls', source: smSource() });
    const healed = await waitFor(
      async () => {
        const c = await certs.get('first');
        const t = c.status?.conditions?.find((x) => x.type === 'TokenReady');
        return t?.reason === 'TokenIssued' ? c : undefined;
      },
      { description: 'a working binding', timeoutMs: 90_000 },
    );
    expect(healed.status?.binding?.revision).toBe(2);
    expect(await certs.events('first')).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'TLSHandshakeFailed' }),
    );
    const live = sim
      .bindings()
      .filter(
        (b) => b.phase === 'ready' && b.labels['btpcerts.io/certificate-uid']?.includes(created.metadata.uid),
      );
    // r2, and r1 (refused) retired until its TTL.
    expect(live.map((b) => b.id)).toContain(healed.status?.binding?.id);
    await certs.deleteAndWait('first', 120_000);
  });

  it('a rotation whose new certificate fails the check keeps the old binding and Secret until one passes', async () => {
    const live = (uid: string) =>
      sim
        .bindings()
        .filter((b) => b.phase === 'ready' && b.labels['btpcerts.io/certificate-uid']?.includes(uid));
    const created = await certs.create('rotating', {
      secretName: 'rotating-tls',
      source: smSource(),
      rotatedBindingTTL: '1h',
    });
    const uid = created.metadata.uid;
    await tokenReady('rotating', 'True', 'TokenIssued');
    const r1 = (await certs.get('rotating')).status?.binding;
    const crt1 = decoded(await certs.secret('rotating-tls'), 'tls.crt');

    // The next binding's certificate comes from a CA XSUAA does not trust.
    sim.injectFault({ kind: 'credential', defect: 'foreignCa', times: 1 });
    await certs.annotate('rotating', { 'btpcerts.io/renew-requested-at': '2026-11-28T12:00:00Z' });
    const held = await certs.waitForCondition('rotating', 'Renewal', {
      status: 'False',
      reason: 'TLSHandshakeFailed',
    });
    expect(held.status?.binding).toEqual(r1);
    expect(held.status?.nextRetryTime).toBeDefined();
    expect(held.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
    expect(decoded(await certs.secret('rotating-tls'), 'tls.crt')).toBe(crt1);
    // The old binding is alive; the refused one is gone.
    expect(live(uid).map((b) => b.id)).toEqual([r1?.id]);
    expect(await certs.events('rotating')).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'TLSHandshakeFailed' }),
    );

    // The retry (after ~10 s) gets a good certificate: it passes, becomes current, r1 is retired.
    const rotated = await waitFor(
      async () => {
        const c = await certs.get('rotating');
        return c.status?.lastRenewRequest === '2026-11-28T12:00:00Z' ? c : undefined;
      },
      { description: 'rotation retried and done', timeoutMs: 90_000 },
    );
    expect(rotated.status?.binding?.id).not.toBe(r1?.id);
    expect(rotated.status?.retiredBindings?.map((r) => r.id)).toContain(r1?.id);
    expect(rotated.status?.token?.certificateFingerprint).toBe(rotated.status?.sha256Fingerprint);
    expect(decoded(await certs.secret('rotating-tls'), 'tls.crt')).not.toBe(crt1);
    // One pool: the refused credential's and r1's were closed as the credential changed.
    expect(operator.operator.tokens.poolCount).toBe(1);
    await certs.deleteAndWait('rotating', 120_000);
  });
});

describe('token check trust', () => {
  it('ServerCertificateUntrusted without the CA; fixed by spec.token.caBundleRef', async () => {
    // An operator that does not trust the simulator's CA (no --btp-ca-file).
    const plain = startOperator(kc, { namespaces: [untrusting], tokenCheckTimeoutMs: CHECK_TIMEOUT_MS });
    const here = new Certificates(kc, untrusting);
    try {
      const { fields } = await binding();
      await certificateFor('private', fields, {}, here);
      await here.waitForCondition('private', 'TokenReady', {
        status: 'False',
        reason: 'ServerCertificateUntrusted',
      });
      // A reference to a ConfigMap that is not there yet says so.
      await here.patchSpec('private', { token: { caBundleRef: { name: 'landscape-ca' } } });
      await here.waitForCondition('private', 'TokenReady', { status: 'False', reason: 'CABundleNotFound' });
      await core.createNamespacedConfigMap({
        namespace: untrusting,
        body: { metadata: { name: 'landscape-ca' }, data: { 'ca.crt': sim.caBundlePem } },
      });
      await here.annotate('private', { 'btpcerts.io/check-token-requested-at': 'ca-added' });
      await here.waitForCondition('private', 'TokenReady', { status: 'True', reason: 'TokenIssued' });
      await here.waitForCondition('private', 'Ready', { status: 'True', reason: 'Issued' });
      // The same bundle from a Secret, under another key.
      await core.createNamespacedSecret({
        namespace: untrusting,
        body: { metadata: { name: 'landscape-ca-secret' }, stringData: { 'root.pem': sim.caBundlePem } },
      });
      await here.patchSpec('private', {
        token: { caBundleRef: { kind: 'Secret', name: 'landscape-ca-secret', key: 'root.pem' } },
      });
      const fromSecret = await here.waitForCondition('private', 'TokenReady', {
        status: 'True',
        reason: 'TokenIssued',
      });
      expect(fromSecret.status?.token?.observedGeneration).toBe(fromSecret.metadata.generation);
    } finally {
      await plain.stop();
    }
  });
});
