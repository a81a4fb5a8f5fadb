// The controller with a Kyma BTP operator ServiceBinding source, against the real control plane,
// with credentials issued by the BTP simulator over real TLS. A small stand-in plays the BTP
// operator (test/support/kyma-stand-in.ts).
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createX509Binding, type SmClient, smClient, X509_PARAMETERS } from '../simulator/helpers.ts';
import type { CredentialDefect } from '../support/btp-simulator/faults.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { Certificates, decoded } from '../support/btpcert.ts';
import { REPO_ROOT } from '../support/control-plane/binaries.ts';
import { applyManifestDir } from '../support/control-plane/manifests.ts';
import { isGone, kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { createServiceBinding, KymaStandIn } from '../support/kyma-stand-in.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const custom = kc.makeApiClient(CustomObjectsApi);
const extensions = kc.makeApiClient(ApiextensionsV1Api);
const ns = testNamespace(kc, 'btpcert-sb');
const SB_CRD = 'servicebindings.services.cloud.sap.com';
const SB = { group: 'services.cloud.sap.com', version: 'v1', plural: 'servicebindings' } as const;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

let sim: Simulator;
let sm: SmClient;
let operator: RunningOperator;
let standIn: KymaStandIn;
let certs: Certificates;
let issued = 0;

beforeAll(async () => {
  // This file needs the ServiceBinding API absent at first.
  try {
    await extensions.deleteCustomResourceDefinition({ name: SB_CRD });
    await waitFor(() => isGone(() => extensions.readCustomResourceDefinition({ name: SB_CRD })), {
      description: 'ServiceBinding CRD removed',
    });
  } catch {}
  sim = await startSimulator();
  sm = await smClient(sim);
  const instance = sim.instance('xsuaa-application');
  standIn = new KymaStandIn(kc, ns, async ({ name, parameters }) => {
    issued += 1;
    const b = await createX509Binding(
      sm,
      instance.id,
      `${ns}-${name}-${issued}`,
      parameters ?? X509_PARAMETERS,
    );
    return { bindingID: b.id, credentials: b.credentials };
  });
  operator = startOperator(kc, { namespaces: [ns], btpCaPem: sim.caBundlePem });
  certs = new Certificates(kc, ns);
});

afterAll(async () => {
  await standIn?.stop();
  await operator?.stop();
  await sm?.close();
  await sim?.stop();
});

// externalName: the stand-in, like the BTP operator without its webhook, needs it.
const createBinding = (name: string, spec: Record<string, unknown> = {}) =>
  createServiceBinding(custom, ns, name, { externalName: name, ...spec });

async function forceRotate(name: string): Promise<void> {
  await custom.patchNamespacedCustomObject(
    {
      ...SB,
      namespace: ns,
      name,
      body: { metadata: { annotations: { 'services.cloud.sap.com/forceRotate': 'true' } } },
    },
    mergePatch,
  );
}

/** Checks the TLS Secret by parsing it: chain order, key match, and what status says of it. */
async function expectValidTlsSecret(certName: string, secretName: string): Promise<X509Certificate> {
  const secret = await certs.secret(secretName);
  expect(secret?.type).toBe('kubernetes.io/tls');
  const chain =
    (decoded(secret, 'tls.crt') ?? '').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ??
    [];
  expect(chain.length).toBe(2);
  const [leaf, intermediate] = chain.map((p) => new X509Certificate(p));
  if (leaf === undefined || intermediate === undefined) throw new Error('no chain');
  expect(leaf.checkIssued(intermediate)).toBe(true);
  expect(leaf.verify(intermediate.publicKey)).toBe(true);
  const { createPrivateKey } = await import('node:crypto');
  expect(leaf.checkPrivateKey(createPrivateKey(decoded(secret, 'tls.key') ?? ''))).toBe(true);
  const ca = new X509Certificate(decoded(secret, 'ca.crt') ?? '');
  expect(intermediate.checkIssued(ca) || ca.fingerprint256 === intermediate.fingerprint256).toBe(true);
  expect(decoded(secret, 'certurl')).toBe(sim.xsuaaCertUrl);
  const cert = await certs.get(certName);
  expect(cert.status?.sha256Fingerprint).toBe(leaf.fingerprint256);
  expect(cert.status?.serialNumber).toBe(leaf.serialNumber.toUpperCase());
  return leaf;
}

describe('ServiceBinding source', () => {
  it('reports ServiceBindingAPIMissing, then picks the API up once installed, without a restart', async () => {
    await certs.create('early', { secretName: 'early-tls', source: { serviceBinding: { name: 'early' } } });
    await certs.waitForCondition('early', 'Ready', { status: 'False', reason: 'ServiceBindingAPIMissing' });
    expect(await certs.events('early')).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'ServiceBindingAPIMissing' }),
    );
    await applyManifestDir(kc, join(REPO_ROOT, 'test/fixtures/crds'));
    await certs.waitForCondition('early', 'Ready', { status: 'False', reason: 'SourceNotFound' }, 120_000);
    standIn.start();
    await createBinding('early');
    await certs.waitForCondition('early', 'Ready', { status: 'True', reason: 'Issued' });
    await expectValidTlsSecret('early', 'early-tls');
  });

  it.each([
    ['one key per field', {}],
    ['secretKey', { secretKey: 'credentials.json' }],
    ['secretRootKey', { secretRootKey: 'binding.json' }],
  ])('reads the Secret layout "%s"', async (_layout, spec) => {
    const name = `layout-${Object.keys(spec)[0]?.toLowerCase() ?? 'default'}`;
    await createBinding(name, { ...spec, secretName: `${name}-creds` });
    await certs.create(name, { secretName: `${name}-tls`, source: { serviceBinding: { name } } });
    const cert = await certs.waitForCondition(name, 'Ready', { status: 'True', reason: 'Issued' });
    expect(cert.status?.source).toBe(`ServiceBinding/${name}`);
    expect(cert.status?.sourceRevision).toMatch(/@\d+$/);
    await expectValidTlsSecret(name, `${name}-tls`);
  });

  const defects: [CredentialDefect, string][] = [
    ['malformedPem', 'InvalidCertificate'],
    ['truncatedCertificate', 'InvalidCertificate'],
    ['keyMismatch', 'KeyMismatch'],
    ['expired', 'Expired'],
    ['notYetValid', 'NotYetValid'],
    ['chainMissingIntermediate', 'BrokenChain'],
  ];
  it.each(defects)(
    'bad credentials from BTP (%s): %s, a Warning event, the previous Secret untouched',
    async (defect, reason) => {
      const name = `fault-${defect.toLowerCase()}`;
      await createBinding(name, { credentialsRotationPolicy: { enabled: true } });
      await certs.create(name, { secretName: `${name}-tls`, source: { serviceBinding: { name } } });
      await certs.waitForCondition(name, 'Ready', { status: 'True' });
      const before = await certs.secret(`${name}-tls`);

      // Expired credentials make the operator ask the ServiceBinding to rotate at once by itself:
      // with one faulty issuance that rotation could bring good credentials before the Expired
      // state was seen. The second faulty issuance holds it for the retry time (10 s at least).
      const fault = sim.injectFault({ kind: 'credential', defect, times: defect === 'expired' ? 2 : 1 });
      await forceRotate(name);
      const cert = await certs.waitForCondition(name, 'Ready', { status: 'False', reason });
      expect((await certs.secret(`${name}-tls`))?.metadata?.resourceVersion).toBe(
        before?.metadata?.resourceVersion,
      );
      const events = await certs.events(name);
      expect(events).toContainEqual(expect.objectContaining({ type: 'Warning', reason }));
      if (defect === 'expired') {
        await waitFor(
          async () =>
            (await certs.events(name)).some(
              (e) => e.reason === 'RotationRequested' && e.message.includes('expired credentials'),
            ),
          { description: 'the operator asked for new credentials itself' },
        );
        // That rotation is over (it drew the second fault, and its annotation is gone): the test's own
        // request below must not fall into it, or it would be the same request.
        await waitFor(
          async () => {
            if (sim.counters().faultsFired[fault] !== 2) return false;
            const sb = (await custom.getNamespacedCustomObject({ ...SB, namespace: ns, name })) as {
              metadata: { annotations?: Record<string, string> };
              status?: { conditions?: { type: string; status: string }[] };
            };
            return (
              sb.metadata.annotations?.['services.cloud.sap.com/forceRotate'] === undefined &&
              !sb.status?.conditions?.some((c) => c.type === 'CredRotationInProgress' && c.status === 'True')
            );
          },
          { description: 'the operator-requested rotation finished' },
        );
      }
      expect(JSON.stringify({ status: cert.status, events })).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);

      // The next rotation brings good credentials again.
      await forceRotate(name);
      await certs.waitForCondition(name, 'Ready', { status: 'True', reason: 'Issued' });
      await expectValidTlsSecret(name, `${name}-tls`);
    },
  );

  it('reorders a chain delivered out of order', async () => {
    const fault = sim.injectFault({ kind: 'credential', defect: 'chainWrongOrder', times: 1 });
    await createBinding('wrong-order');
    await certs.create('wrong-order', {
      secretName: 'wrong-order-tls',
      source: { serviceBinding: { name: 'wrong-order' } },
    });
    await certs.waitForCondition('wrong-order', 'Ready', { status: 'True' });
    // The defect reached this binding: the credentials it delivered (the ServiceBinding's Secret,
    // named after it) hold the intermediate first, then the leaf, then the root.
    expect(sim.counters().faultsFired[fault]).toBe(1);
    const delivered =
      decoded(await certs.secret('wrong-order'), 'certificate')?.match(
        /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g,
      ) ?? [];
    expect(delivered.map((pem) => new X509Certificate(pem).ca)).toEqual([true, false, true]);
    await expectValidTlsSecret('wrong-order', 'wrong-order-tls');
  });

  it('asks the ServiceBinding to rotate when renewal is due, and picks up the new credentials', async () => {
    sim.setLifetimeOverride(45);
    try {
      await createBinding('renewing', { credentialsRotationPolicy: { enabled: true } });
      await certs.create('renewing', {
        secretName: 'renewing-tls',
        source: { serviceBinding: { name: 'renewing' } },
        renewBeforePercentage: 70,
      });
      const first = await certs.waitForCondition('renewing', 'Ready', { status: 'True' });
      // Renewal at 30% of 45 s: the controller schedules itself, asks for rotation, gets new credentials.
      await waitFor(
        async () =>
          (await certs.get('renewing')).status?.sha256Fingerprint !== first.status?.sha256Fingerprint,
        {
          description: 'new certificate after renewal',
          timeoutMs: 90_000,
        },
      );
      const renewed = await certs.waitForCondition('renewing', 'Ready', { status: 'True' });
      expect(standIn.rotations.get('renewing')).toBeGreaterThanOrEqual(1);
      expect(renewed.status?.lastRotationRequestTime).toBeDefined();
      await expectValidTlsSecret('renewing', 'renewing-tls');
      expect(await certs.events('renewing')).toContainEqual(
        expect.objectContaining({ reason: 'RotationRequested' }),
      );
    } finally {
      sim.setLifetimeOverride(null);
    }
  });

  it('says RotationNotEnabled when renewal is due but the ServiceBinding cannot rotate', async () => {
    sim.setLifetimeOverride(20);
    try {
      await createBinding('no-rotation');
      await certs.create('no-rotation', {
        secretName: 'no-rotation-tls',
        source: { serviceBinding: { name: 'no-rotation' } },
        renewBeforePercentage: 90,
      });
      await certs.waitForCondition('no-rotation', 'Renewal', {
        status: 'False',
        reason: 'RotationNotEnabled',
      });
      expect(await certs.events('no-rotation')).toContainEqual(
        expect.objectContaining({ type: 'Warning', reason: 'RotationNotEnabled' }),
      );
    } finally {
      sim.setLifetimeOverride(null);
    }
  });

  it('left the stand-in without errors', () => {
    expect(standIn.errors).toEqual([]);
  });
});
