// The controller against the real control plane, with a Secret source: the TLS Secret it writes,
// status, events, tamper restore, no rewrite of a correct Secret, conflicts, bad input, GC.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Secret,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Certificates as C, Certificates, decoded } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { isGone, kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { cachedCertificate, reconciledAfter } from '../support/reconciled.ts';
import { concat, keyPem, testKey } from '../unit/pki/fixtures.ts';

/** Credentials from the test PKI name hosts that do not exist: their token check is off here
 * (test/integration/token-check.test.ts proves it against the simulator). */
const NO_TOKEN_CHECK = { token: { check: false } } as const;

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'btpcert-secret');
let operator: RunningOperator;
let certs: C;

const HOUR = 3_600_000;
const TOUCHED = 'test.btpcerts.io/touched';
const credentials = (validFor?: number) => bindingCredentials(validFor);

async function putSecret(name: string, stringData: Record<string, string>): Promise<void> {
  const body = { metadata: { name, namespace: ns }, stringData };
  try {
    await core.replaceNamespacedSecret({ namespace: ns, name, body });
  } catch {
    await core.createNamespacedSecret({ namespace: ns, body });
  }
}

beforeAll(() => {
  operator = startOperator(kc, { namespaces: [ns] });
  certs = new Certificates(kc, ns, NO_TOKEN_CHECK);
});
afterAll(async () => {
  await operator.stop();
});

describe('Secret source', () => {
  it('writes a validated kubernetes.io/tls Secret with the chain in order and the binding fields', async () => {
    const { h, fields } = credentials();
    // The source has the chain out of order: root, leaf, intermediate.
    await putSecret('src-1', { ...fields, certificate: concat(h.root, h.leaf, h.intermediate) });
    await certs.create(
      'c1',
      { secretName: 'tls-1', source: { secret: { name: 'src-1' } } },
      { app: 'orders', 'argocd.argoproj.io/instance': 'orders' },
    );
    const cert = await certs.waitForCondition('c1', 'Ready', { status: 'True', reason: 'Issued' });

    const secret = await certs.secret('tls-1');
    expect(secret?.type).toBe('kubernetes.io/tls');
    expect(decoded(secret, 'tls.crt')).toBe(concat(h.leaf, h.intermediate));
    expect(decoded(secret, 'ca.crt')).toBe(concat(h.intermediate, h.root));
    expect(decoded(secret, 'tls.key')).toBe(fields.key);
    const leaf = new X509Certificate(decoded(secret, 'tls.crt') ?? '');
    expect(leaf.checkPrivateKey(h.leaf.key.privateKey)).toBe(true);
    for (const k of ['clientid', 'certurl', 'url', 'xsappname', 'credential-type'] as const) {
      expect(decoded(secret, k)).toBe(fields[k]);
    }
    expect(decoded(secret, 'type')).toBe('xsuaa');
    expect(decoded(secret, 'provider')).toBe('sap');
    expect(secret?.metadata?.labels).toMatchObject({ 'btpcerts.io/managed': 'true', app: 'orders' });
    expect(secret?.metadata?.labels).not.toHaveProperty('argocd.argoproj.io/instance');
    expect(secret?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'BTPCertificate',
        name: 'c1',
        uid: cert.metadata.uid,
        controller: true,
      }),
    ]);
    expect(secret?.metadata?.managedFields?.map((f) => f.manager)).toContain('btp-cert-operator');

    expect(cert.status).toMatchObject({
      source: 'Secret/src-1',
      subject: h.leaf.subject,
      notAfter: new Date(leaf.validTo).toISOString().replace('.000', ''),
    });
    expect(cert.status?.sha256Fingerprint).toBe(leaf.fingerprint256);
    expect(cert.status?.serialNumber).toBe(leaf.serialNumber.toUpperCase());
    expect(cert.status?.conditions?.find((c) => c.type === 'TokenReady')?.status).toBe('Unknown');
    expect(await certs.events('c1')).toContainEqual(
      expect.objectContaining({ type: 'Normal', reason: 'Issued' }),
    );
  });

  it('never rewrites a Secret that is already right, and restores one that was edited or deleted', async () => {
    const { fields } = credentials();
    await putSecret('src-2', fields);
    await certs.create('c2', { secretName: 'tls-2', source: { secret: { name: 'src-2' } } });
    await certs.waitForCondition('c2', 'Ready', { status: 'True' });
    const first = await certs.secret('tls-2');
    // Unrelated changes make the controller reconcile again (its status says which generation it
    // saw), but the Secret stays as it is.
    await certs.patchSpec('c2', { renewBeforePercentage: 40 });
    const generation = (await certs.get('c2')).metadata.generation;
    await waitFor(async () => (await certs.get('c2')).status?.observedGeneration === generation, {
      description: 'the spec change reconciled',
    });
    expect((await certs.secret('tls-2'))?.metadata?.resourceVersion).toBe(first?.metadata?.resourceVersion);

    // Tamper with the key.
    const edited: V1Secret = {
      ...first,
      data: { ...first?.data, 'tls.key': Buffer.from('tampered').toString('base64') },
    };
    await core.replaceNamespacedSecret({ namespace: ns, name: 'tls-2', body: edited });
    await waitFor(async () => decoded(await certs.secret('tls-2'), 'tls.key') === fields.key, {
      description: 'tampered tls.key restored',
    });
    expect(await certs.events('c2')).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'Restored' }),
    );

    // Delete it.
    await core.deleteNamespacedSecret({ namespace: ns, name: 'tls-2' });
    await waitFor(async () => decoded(await certs.secret('tls-2'), 'tls.key') === fields.key, {
      description: 'deleted Secret restored',
    });
  });

  it('picks up new credentials when the source Secret changes', async () => {
    const a = credentials();
    await putSecret('src-3', a.fields);
    await certs.create('c3', {
      secretName: 'tls-3',
      source: { secret: { name: 'src-3', key: 'creds.json' } },
    });
    await certs.waitForCondition('c3', 'Ready', { status: 'False', reason: 'SourceNotFound' });
    await putSecret('src-3', { 'creds.json': JSON.stringify(a.fields) });
    await certs.waitForCondition('c3', 'Ready', { status: 'True' });
    const b = credentials(3 * 24 * HOUR);
    await putSecret('src-3', { 'creds.json': JSON.stringify({ credentials: b.fields }) });
    await waitFor(async () => decoded(await certs.secret('tls-3'), 'tls.key') === b.fields.key, {
      description: 'new credentials in tls-3',
    });
    const notAfter = new Date(new X509Certificate(b.h.leaf.pem).validTo).toISOString().replace('.000', '');
    await waitFor(async () => (await certs.get('c3')).status?.notAfter === notAfter, {
      description: 'status.notAfter of the new certificate',
    });
  });

  it.each([
    [
      'KeyMismatch',
      (f: Record<string, string>) => ({ ...f, key: keyPem(testKey('other-binding'), 'pkcs1') }),
    ],
    [
      'InvalidCertificate',
      (f: Record<string, string>) => ({ ...f, certificate: (f.certificate ?? '').slice(0, 400) }),
    ],
    [
      'BrokenChain',
      (f: Record<string, string>) => ({
        ...f,
        certificate: (f.certificate ?? '')
          .split('-----END CERTIFICATE-----\n')
          .filter((_, i) => i !== 1)
          .join('-----END CERTIFICATE-----\n'),
      }),
    ],
    [
      'NotX509Credentials',
      () => ({ clientid: 'x', clientsecret: 'not-shown', 'credential-type': 'binding-secret' }),
    ],
  ])(
    'bad credentials (%s): a specific reason, a Warning event, and the Secret left as it was',
    async (reason, spoil) => {
      const name = `bad-${reason.toLowerCase()}`;
      const { fields } = credentials();
      await putSecret(name, fields);
      await certs.create(name, { secretName: `${name}-tls`, source: { secret: { name } } });
      await certs.waitForCondition(name, 'Ready', { status: 'True' });
      const before = await certs.secret(`${name}-tls`);

      await putSecret(name, spoil(fields));
      const cert = await certs.waitForCondition(name, 'Ready', { status: 'False', reason });
      expect(cert.status?.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('True');
      const after = await certs.secret(`${name}-tls`);
      expect(after?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
      const events = await certs.events(name);
      expect(events).toContainEqual(expect.objectContaining({ type: 'Warning', reason }));
      expect(JSON.stringify({ status: cert.status, events })).not.toMatch(/PRIVATE KEY|not-shown|BEGIN/);
    },
  );

  it('does not overwrite a Secret it does not own, nor let two BTPCertificates share one', async () => {
    const { fields } = credentials();
    await putSecret('src-5', fields);
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'foreign' }, stringData: { mine: 'yes' } },
    });
    await certs.create('c5', { secretName: 'foreign', source: { secret: { name: 'src-5' } } });
    await certs.waitForCondition('c5', 'Ready', { status: 'False', reason: 'SecretConflict' });
    expect(decoded(await certs.secret('foreign'), 'mine')).toBe('yes');
    expect(await certs.events('c5')).toContainEqual(expect.objectContaining({ reason: 'SecretConflict' }));

    await certs.create('c6a', { secretName: 'shared', source: { secret: { name: 'src-5' } } });
    await certs.waitForCondition('c6a', 'Ready', { status: 'True' });
    const owned = await certs.secret('shared');
    await certs.create('c6b', { secretName: 'shared', source: { secret: { name: 'src-5' } } });
    await certs.waitForCondition('c6b', 'Ready', { status: 'False', reason: 'SecretConflict' });
    expect((await certs.secret('shared'))?.metadata?.ownerReferences?.[0]?.name).toBe('c6a');
    expect((await certs.secret('shared'))?.metadata?.resourceVersion).toBe(owned?.metadata?.resourceVersion);
  });

  it('writes status only when something changed, and sends a repeated warning once', async () => {
    const { fields } = credentials();
    await putSecret('src-8', fields);
    await certs.create('c8', { secretName: 'tls-8', source: { secret: { name: 'src-8' } } });
    await certs.waitForCondition('c8', 'Ready', { status: 'True' });
    const custom = kc.makeApiClient(CustomObjectsApi);
    const touch = (value: string) =>
      custom.patchNamespacedCustomObject(
        {
          group: 'btpcerts.io',
          version: 'v1alpha1',
          plural: 'btpcertificates',
          namespace: ns,
          name: 'c8',
          // The operator's cache keeps btpcerts.io annotations only (src/kube/cache-trim.ts).
          body: { metadata: { annotations: { [TOUCHED]: value } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    const touched = (value: string) => (cached: unknown) =>
      (cached as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[TOUCHED] ===
      value;
    // Each touch wakes the controller; nothing it owns changes.
    await touch('1');
    const before = await certs.get('c8');
    const secretBefore = await certs.secret('tls-8');
    await touch('2');
    await touch('3');
    await reconciledAfter(operator, ns, 'c8', touched('3'), 'touch 3');
    const afterTouches = await certs.get('c8');
    expect(afterTouches.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion); // the touches
    expect(afterTouches.status).toEqual(before.status);
    expect((await certs.secret('tls-8'))?.metadata?.resourceVersion).toBe(
      secretBefore?.metadata?.resourceVersion,
    );
    // The count of managed-fields writes by the operator to status did not grow.
    const statusWrites = (c: typeof before) =>
      (
        c as unknown as {
          metadata: { managedFields?: { manager?: string; subresource?: string; time?: string }[] };
        }
      ).metadata.managedFields?.find((f) => f.manager === 'btp-cert-operator' && f.subresource === 'status')
        ?.time;
    expect(statusWrites(afterTouches)).toBe(statusWrites(before));

    // A failure that persists through many reconciles: one Event.
    await putSecret('src-8', { ...fields, key: 'garbage' });
    await certs.waitForCondition('c8', 'Ready', { status: 'False', reason: 'InvalidKey' });
    for (const v of ['4', '5', '6']) await touch(v);
    await reconciledAfter(operator, ns, 'c8', touched('6'), 'touch 6');
    const warnings = (await certs.events('c8')).filter((e) => e.reason === 'InvalidKey');
    expect(warnings).toHaveLength(1);
  });

  it('adds CombinedPEM and a PKCS12 keystore that openssl opens with the password', async () => {
    const { h, fields } = credentials();
    await putSecret('src-9', fields);
    await putSecret('p12-password', { password: 'changeit' });
    await certs.create('c9', {
      secretName: 'tls-9',
      source: { secret: { name: 'src-9' } },
      additionalOutputFormats: [
        { type: 'CombinedPEM' },
        { type: 'PKCS12', passwordSecretRef: { name: 'p12-password', key: 'password' } },
      ],
      secretTemplate: { data: { tokenurl: '{{certurl}}/oauth/token' }, labels: { team: 'payments' } },
    });
    await certs.waitForCondition('c9', 'Ready', { status: 'True' });
    const secret = await certs.secret('tls-9');
    expect(decoded(secret, 'tls-combined.pem')).toBe(`${fields.key}${concat(h.leaf, h.intermediate)}`);
    expect(decoded(secret, 'tokenurl')).toBe(`${fields.certurl}/oauth/token`);
    expect(secret?.metadata?.labels?.team).toBe('payments');
    const dir = mkdtempSync(join(tmpdir(), 'p12-'));
    writeFileSync(join(dir, 'k.p12'), Buffer.from(secret?.data?.['keystore.p12'] ?? '', 'base64'));
    const out = execFileSync(
      'openssl',
      ['pkcs12', '-in', join(dir, 'k.p12'), '-passin', 'pass:changeit', '-nokeys', '-clcerts'],
      { encoding: 'utf8' },
    );
    expect(out).toContain(h.leaf.pem.trim().split('\n')[1]);
  });

  it('its own writes do not wake a certificate: an issuance is one run (issue 11)', async () => {
    // The source appears after the certificate: its first run only records SourceNotFound.
    await certs.create('c-own', {
      secretName: 'tls-own',
      source: { secret: { name: 'src-own' } },
      ...NO_TOKEN_CHECK,
    });
    await certs.waitForCondition('c-own', 'Ready', { status: 'False', reason: 'SourceNotFound' });
    const notFound = (cached: unknown) => JSON.stringify(cached).includes('SourceNotFound');
    await reconciledAfter(operator, ns, 'c-own', notFound, 'SourceNotFound');
    const runs = () =>
      readFileSync(operator.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"msg":"reconciled"') && l.includes(`"key":"${ns}/c-own"`)).length;
    const before = runs();

    await putSecret('src-own', credentials().fields);
    await certs.waitForCondition('c-own', 'Ready', { status: 'True', reason: 'Issued' });
    // Both writes of the issuance have reached the operator's caches: the status patch...
    const issued = (cached: unknown) => JSON.stringify(cached).includes('"Issued"');
    await reconciledAfter(operator, ns, 'c-own', issued, 'Ready');
    // ...and the Secret's create.
    const written = (await certs.secret('tls-own'))?.metadata?.resourceVersion;
    await waitFor(
      () => operator.controller.managedSecret(ns, 'tls-own')?.metadata?.resourceVersion === written,
      {
        description: 'the cache holds tls-own as written',
      },
    );
    await reconciledAfter(operator, ns, 'c-own', issued, 'Ready, Secret cached');
    // The source's change woke it once; its Secret create and status patch did not wake it again.
    expect(runs() - before).toBe(1);
  });

  it('ignores BTPCertificates in namespaces it does not watch', async () => {
    const other = await core.createNamespace({ body: { metadata: { generateName: 'unwatched-' } } });
    const otherNs = other.metadata?.name ?? '';
    try {
      const elsewhere = new Certificates(kc, otherNs, NO_TOKEN_CHECK);
      await elsewhere.create('x', { secretName: 'x-tls', source: { secret: { name: 'nope' } } });
      // A marker in the watched namespace, created after x: once the operator has reconciled it,
      // it would have seen x before, had it watched x's namespace too.
      await certs.create('marker', { secretName: 'marker-tls', source: { secret: { name: 'nope' } } });
      await reconciledAfter(operator, ns, 'marker', () => true, 'the marker');
      expect(cachedCertificate(operator, otherNs, 'x')).toBeUndefined();
      expect(operator.controller.queue.inspect(`${otherNs}/x`)).toBeUndefined();
      expect((await elsewhere.get('x')).status).toBeUndefined();
    } finally {
      await certs.delete('marker').catch(() => {});
      await core.deleteNamespace({ name: otherNs });
    }
  });

  it('kubectl get btpcert shows the printer columns filled', async () => {
    const kubectl = join(inject('kubeBinDir'), 'kubectl');
    const out = execFileSync(
      kubectl,
      ['--kubeconfig', inject('kubeconfig'), 'get', 'btpcert', 'c1', '-n', ns, '-o', 'wide'],
      {
        encoding: 'utf8',
      },
    );
    const [header, row] = out.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual([
      'NAME',
      'READY',
      'TOKEN',
      'SOURCE',
      'SECRET',
      'EXPIRES',
      'RENEWAL',
      'REASON',
      'AGE',
    ]);
    const cells = row?.split(/\s+/) ?? [];
    expect(cells.slice(0, 5)).toEqual(['c1', 'True', 'Disabled', 'Secret/src-1', 'tls-1']);
    expect(cells[5]).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(cells[6]).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(cells[7]).toBe('Issued');
  });

  it('deleting the BTPCertificate garbage-collects its Secret', async () => {
    const { fields } = credentials();
    await putSecret('src-7', fields);
    await certs.create('c7', { secretName: 'tls-7', source: { secret: { name: 'src-7' } } });
    await certs.waitForCondition('c7', 'Ready', { status: 'True' });
    await certs.delete('c7');
    await waitFor(() => isGone(() => core.readNamespacedSecret({ namespace: ns, name: 'tls-7' })), {
      description: 'Secret tls-7 garbage-collected',
    });
  });
});
