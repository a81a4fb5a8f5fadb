// Regression (field defect): an expired certificate made the operator write its status and create
// a Warning Event about ten times a second, without end. The condition message carried the current
// time, so every reconcile computed a "changed" status; the write woke the watch; the Event
// de-duplication keyed on the message. Here every failing reason is provoked and then watched
// through the API, as a write loop shows up for everyone else: once a failure is reported, the
// operator keeps reconciling (resync, rechecks) but writes nothing more.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BTPCertificateSpec } from '../../src/api/types.ts';
import { type Certificates as C, Certificates } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { WriteRecorder } from '../support/writes.ts';
import { btpName, buildCertificate, buildHierarchy, concat, keyPem, testKey } from '../unit/pki/fixtures.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'quiet');
const HOUR = 3_600_000;
/** Short, so that every certificate is reconciled many times while the test watches. */
const RESYNC_MS = 10_000;
const NO_TOKEN_CHECK = { check: false } as const;

let operator: RunningOperator;
let certs: C;
let recorder: WriteRecorder;

async function putSecret(name: string, stringData: Record<string, string>): Promise<void> {
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name, namespace: ns }, stringData },
  });
}

const reconciles = () => {
  const c = operator.controller.queue.counts;
  return c.requeue + c.awaitChange + c.retry + c.terminal;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  operator = startOperator(kc, { namespaces: [ns], resyncMs: RESYNC_MS });
  certs = new Certificates(kc, ns);
  recorder = new WriteRecorder(kc, ns);
  await recorder.start();
});
afterAll(async () => {
  recorder.stop();
  await operator.stop();
});

// The tests watch different objects: they run at the same time, which keeps the file short.
describe.concurrent('a failure is reported once', () => {
  it('a certificate that expires while watched: one status write and one Event in the next two minutes', async () => {
    // Valid for 25 more seconds (the leaf's notBefore is an hour back).
    const { fields } = bindingCredentials(HOUR + 25_000);
    await putSecret('expiring-src', fields);
    await certs.create('expiring', {
      secretName: 'expiring-tls',
      source: { secret: { name: 'expiring-src' } },
      token: NO_TOKEN_CHECK,
    });
    const ready = await certs.waitForCondition('expiring', 'Ready', { status: 'True', reason: 'Issued' });
    const notAfter = new Date(ready.status?.notAfter ?? '').getTime();
    // Everything written on the way to Ready is behind us once its Events (sent right after the
    // status) have arrived: Issued, and SourceCannotRenew (renewal is due: an hour of 1h25s is gone).
    await waitFor(
      () => {
        const reasons = recorder.eventWrites('expiring').map((e) => e.reason);
        return reasons.includes('Issued') && reasons.includes('SourceCannotRenew');
      },
      { description: 'the Events of the first reconcile' },
    );
    const from = Date.now();
    const reconcilesBefore = reconciles();

    await certs.waitForCondition('expiring', 'Ready', { status: 'False', reason: 'Expired' }, 90_000);
    const windowEnd = Math.max(Date.now(), notAfter) + 120_000;
    await sleep(windowEnd - Date.now());

    // The operator kept looking (resync every 10 s) while it wrote nothing.
    expect(reconciles() - reconcilesBefore).toBeGreaterThanOrEqual(6);
    expect(recorder.gaps).toBe(0);
    const writes = recorder.certificateWrites('expiring', from);
    expect(writes.map((w) => w.status?.conditions?.find((c) => c.type === 'Ready')?.reason)).toEqual([
      'Expired',
    ]);
    const events = recorder.eventWrites('expiring', from);
    expect(events.map((e) => `${e.phase} ${e.reason}`)).toEqual(['ADDED Expired']);
    const message = writes[0]?.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
    expect(message).toMatch(/expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(message).not.toContain('now');
  }, 300_000);

  it('every failing reason: after it is reported, no further status write or Event for 60 s', async () => {
    const now = Date.now();
    const valid = bindingCredentials();
    // Names the intermediate as its issuer, but another key signed it.
    const forged = buildCertificate({
      subject: btpName('forged-client'),
      key: valid.h.leaf.key,
      issuer: { name: valid.h.intermediate.name, key: testKey('other') },
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 24 * HOUR),
      ca: false,
    });
    const expired = buildHierarchy({
      leaf: { notBefore: new Date(now - 9 * 24 * HOUR), notAfter: new Date(now - 2 * 24 * HOUR) },
    });
    const future = buildHierarchy({
      leaf: { notBefore: new Date(now + 2 * 24 * HOUR), notAfter: new Date(now + 9 * 24 * HOUR) },
    });
    const withChain = (h: typeof expired) => ({
      ...valid.fields,
      certificate: concat(h.leaf, h.intermediate, h.root),
      key: keyPem(h.leaf.key, 'pkcs1'),
    });
    // An hour back, valid for 70 minutes: renewal (at 2/3) is due, but a Secret cannot renew.
    const renewalDue = bindingCredentials(HOUR + 10 * 60_000);
    const noEndpoint: Record<string, string> = { ...valid.fields };
    delete noEndpoint.certurl;
    delete noEndpoint.url;

    type Row = {
      name: string;
      condition: 'Ready' | 'Renewal' | 'TokenReady';
      reason: string;
      source?: Record<string, string>;
      spec?: Partial<BTPCertificateSpec>;
      before?: () => Promise<void>;
    };
    const fromSecret = (name: string): Partial<BTPCertificateSpec> => ({ source: { secret: { name } } });
    const rows: Row[] = [
      { name: 'source-not-found', condition: 'Ready', reason: 'SourceNotFound' },
      {
        name: 'invalid-credentials',
        condition: 'Ready',
        reason: 'InvalidCredentials',
        source: { 'creds.json': '{not json' },
        spec: { source: { secret: { name: 'invalid-credentials-src', key: 'creds.json' } } },
      },
      {
        name: 'not-x509',
        condition: 'Ready',
        reason: 'NotX509Credentials',
        source: { clientid: 'sb-x', clientsecret: 'not-a-real-secret', url: 'https://x.example' },
      },
      {
        name: 'invalid-certificate',
        condition: 'Ready',
        reason: 'InvalidCertificate',
        source: {
          ...valid.fields,
          certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        },
      },
      {
        name: 'invalid-key',
        condition: 'Ready',
        reason: 'InvalidKey',
        source: { ...valid.fields, key: 'no key' },
      },
      {
        name: 'key-mismatch',
        condition: 'Ready',
        reason: 'KeyMismatch',
        source: { ...valid.fields, key: keyPem(testKey('other'), 'pkcs1') },
      },
      {
        name: 'broken-chain',
        condition: 'Ready',
        reason: 'BrokenChain',
        source: { ...valid.fields, certificate: concat(forged, valid.h.intermediate, valid.h.root) },
      },
      { name: 'expired', condition: 'Ready', reason: 'Expired', source: withChain(expired) },
      // Rechecked every 30 s, since it becomes valid by itself.
      { name: 'not-yet-valid', condition: 'Ready', reason: 'NotYetValid', source: withChain(future) },
      {
        name: 'secret-conflict',
        condition: 'Ready',
        reason: 'SecretConflict',
        source: valid.fields,
        before: () => putSecret('secret-conflict-tls', { owner: 'someone else' }),
      },
      {
        name: 'invalid-template',
        condition: 'Ready',
        reason: 'InvalidSecretTemplate',
        source: valid.fields,
        spec: { secretTemplate: { data: { x: '{{no_such_field}}' } } },
      },
      {
        name: 'password-missing',
        condition: 'Ready',
        reason: 'PasswordSecretNotFound',
        source: valid.fields,
        spec: {
          additionalOutputFormats: [
            { type: 'PKCS12', passwordSecretRef: { name: 'no-such-password', key: 'password' } },
          ],
        },
      },
      { name: 'cannot-renew', condition: 'Renewal', reason: 'SourceCannotRenew', source: renewalDue.fields },
      {
        name: 'sm-credentials-invalid',
        condition: 'Ready',
        reason: 'InvalidSMCredentials',
        before: () => putSecret('sm-access-incomplete', { clientid: 'x' }),
        spec: {
          source: {
            serviceManager: {
              serviceInstanceName: 'xsuaa',
              credentialsSecretRef: { name: 'sm-access-incomplete' },
            },
          },
        },
      },
      {
        name: 'sm-credentials-not-allowed',
        condition: 'Ready',
        reason: 'SMCredentialsNotAllowed',
        spec: { source: { serviceManager: { serviceInstanceName: 'xsuaa' } } },
      },
      // Retried with backoff: each retry is a new check and writes status.token, nothing else.
      {
        name: 'no-token-endpoint',
        condition: 'TokenReady',
        reason: 'NoTokenEndpoint',
        source: noEndpoint,
        spec: { token: { check: true } },
      },
    ];

    for (const row of rows) {
      await row.before?.();
      if (row.source !== undefined) await putSecret(`${row.name}-src`, row.source);
      const spec = {
        secretName: `${row.name}-tls`,
        token: NO_TOKEN_CHECK,
        ...fromSecret(`${row.name}-src`),
        ...row.spec,
      } as BTPCertificateSpec;
      await certs.create(row.name, spec);
    }
    for (const row of rows) {
      await certs.waitForCondition(row.name, row.condition, { status: 'False', reason: row.reason }, 90_000);
    }
    // Let anything that is still on its way land: the TokenReady row's first retry among it.
    await sleep(2_000);
    const from = Date.now();
    const reconcilesBefore = reconciles();
    await sleep(60_000);

    expect(recorder.gaps).toBe(0);
    // Each was reconciled again and again (resync every 10 s) in the window.
    expect(reconciles() - reconcilesBefore).toBeGreaterThanOrEqual(rows.length * 4);
    const loud = rows
      .filter((row) => row.condition !== 'TokenReady')
      .map((row) => ({
        name: row.name,
        statusWrites: recorder.certificateWrites(row.name, from).length,
        eventWrites: recorder.eventWrites(row.name, from).map((e) => `${e.phase} ${e.reason}`),
      }))
      .filter((r) => r.statusWrites > 0 || r.eventWrites.length > 0);
    expect(loud).toEqual([]);

    // The token check retries with backoff (10 s, 20 s, 40 s, ...): each retry records the check in
    // status.token and changes nothing else; its Event was sent once, when TokenReady turned False.
    const tokenWrites = recorder.certificateWrites('no-token-endpoint', from);
    expect(tokenWrites.length).toBeLessThanOrEqual(3);
    const conditionsOf = (w: (typeof tokenWrites)[number]) =>
      JSON.stringify(w.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]));
    const settled = await certs.get('no-token-endpoint');
    for (const w of tokenWrites) {
      expect(conditionsOf(w)).toBe(
        JSON.stringify(settled.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message])),
      );
    }
    const checks = new Set(tokenWrites.map((w) => w.status?.token?.lastCheckTime));
    expect(checks.size).toBe(tokenWrites.length);
    expect(recorder.eventWrites('no-token-endpoint', from)).toEqual([]);
  }, 300_000);
});

describe.concurrent('Events are counted, not repeated', () => {
  it('the same reason for the same object again updates the count of its Event', async () => {
    const { fields } = bindingCredentials();
    await putSecret('flapping-src', fields);
    await certs.create('flapping', {
      secretName: 'flapping-tls',
      source: { secret: { name: 'flapping-src' } },
      token: NO_TOKEN_CHECK,
    });
    await certs.waitForCondition('flapping', 'Ready', { status: 'True' });
    // Broken, fixed, broken again: two transitions to KeyMismatch, with different keys.
    for (const key of [keyPem(testKey('other'), 'pkcs1'), fields.key, keyPem(testKey('third'), 'pkcs1')]) {
      await core.replaceNamespacedSecret({
        namespace: ns,
        name: 'flapping-src',
        body: { metadata: { name: 'flapping-src', namespace: ns }, stringData: { ...fields, key } },
      });
      const want = key === fields.key ? { status: 'True' } : { status: 'False', reason: 'KeyMismatch' };
      await certs.waitForCondition('flapping', 'Ready', want);
    }
    await waitFor(
      async () => {
        const list = await core.listNamespacedEvent({
          namespace: ns,
          fieldSelector: 'involvedObject.name=flapping,reason=KeyMismatch',
        });
        return list.items.length === 1 && list.items[0]?.count === 2;
      },
      { description: 'one KeyMismatch Event with count 2' },
    );
  });
});
