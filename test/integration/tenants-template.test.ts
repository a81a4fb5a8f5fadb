// spec.secretTemplate cannot set what the operator writes itself, nor annotations that make a
// copy tool (reflector, kubernetes-replicator, kubed) copy the Secret, with its key, to other
// namespaces (issue 10, point 10b). The CRD rejects such a template; a BTPCertificate stored
// before the CRD had the rule (played here by lifting the rule for a moment) gets
// InvalidSecretTemplate naming the key, and its Secret is neither written nor changed.
import { ApiextensionsV1Api, CoreV1Api, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BTPCertificateSpec } from '../../src/api/types.ts';
import { Certificates } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { apiError, kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const extensions = kc.makeApiClient(ApiextensionsV1Api);
const ns = testNamespace(kc, 'tenant-template');
const CRD = 'btpcertificates.btpcerts.io';
let operator: RunningOperator;
let certs: Certificates;

const REFLECT = {
  'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
  'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
};

/** Sets the spec (create or merge patch); resolves the API server's 422 message, or '' if stored. */
async function store(name: string, spec: Partial<BTPCertificateSpec>, create: boolean): Promise<string> {
  try {
    if (create) await certs.create(name, spec as BTPCertificateSpec);
    else await certs.patchSpec(name, spec);
    return '';
  } catch (e) {
    if (apiError(e)?.code !== 422) throw e;
    return apiError(e)?.message ?? '';
  }
}

/** The CRD without its secretTemplate rules while `stored` runs: as a CRD from before them. */
async function withoutTemplateRules(stored: () => Promise<string>): Promise<void> {
  const original = await extensions.readCustomResourceDefinition({ name: CRD });
  const lifted: V1CustomResourceDefinition = structuredClone(original);
  for (const v of lifted.spec.versions) {
    const template =
      v.schema?.openAPIV3Schema?.properties?.spec?.properties?.secretTemplate?.properties ?? {};
    for (const part of Object.values(template)) delete part.x_kubernetes_validations;
  }
  await extensions.replaceCustomResourceDefinition({ name: CRD, body: lifted });
  try {
    // The API server picks up a changed CRD a moment later: until then the rule still rejects.
    await waitFor(async () => (await stored()) === '', { description: 'stored without the template rules' });
  } finally {
    const current = await extensions.readCustomResourceDefinition({ name: CRD });
    const resourceVersion = current.metadata?.resourceVersion ?? '';
    await extensions.replaceCustomResourceDefinition({
      name: CRD,
      body: {
        ...original,
        metadata: { ...original.metadata, resourceVersion },
      },
    });
  }
  // The rules are back (the files after this one see the real CRD).
  const probe = {
    secretName: 'p',
    source: { secret: { name: 'p' } },
    secretTemplate: { data: { url: 'x' } },
  };
  let n = 0;
  await waitFor(async () => (await store(`probe-${n++}`, probe, true)) !== '', {
    description: 'template rules restored',
  });
}

/** Ready=False/InvalidSecretTemplate naming `key`, with a Warning Event. */
async function expectRefused(name: string, key: string): Promise<void> {
  const cert = await certs.waitForCondition(name, 'Ready', {
    status: 'False',
    reason: 'InvalidSecretTemplate',
  });
  expect(cert.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(key);
  expect(await certs.events(name)).toContainEqual(
    expect.objectContaining({ type: 'Warning', reason: 'InvalidSecretTemplate' }),
  );
}

beforeAll(() => {
  operator = startOperator(kc, { namespaces: [ns] });
  certs = new Certificates(kc, ns, { token: { check: false } });
});
afterAll(async () => {
  await operator.stop();
});

describe('secretTemplate cannot widen who sees the Secret', () => {
  it('a copy annotation stored before the CRD rule: InvalidSecretTemplate, no Secret', async () => {
    const { fields } = bindingCredentials();
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'src-1' }, stringData: fields },
    });
    const spec = {
      secretName: 'tls-1',
      source: { secret: { name: 'src-1' } },
      secretTemplate: { annotations: REFLECT },
    };
    expect(await store('c1', spec, true)).toContain('must not set reflector.v1.k8s.emberstack.com/');

    await withoutTemplateRules(() => store('c1', spec, true));
    await expectRefused(
      'c1',
      'secretTemplate.annotations: reflector.v1.k8s.emberstack.com/reflection-allowed',
    );
    // The condition is written after the Secret would have been: the reconcile has run.
    expect(await certs.secret('tls-1')).toBeUndefined();
  });

  it('a reserved data key added to a working certificate: its Secret keeps what it had', async () => {
    const { fields } = bindingCredentials();
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'src-2' }, stringData: fields },
    });
    await certs.create('c2', { secretName: 'tls-2', source: { secret: { name: 'src-2' } } });
    await certs.waitForCondition('c2', 'Ready', { status: 'True', reason: 'Issued' });
    const before = await certs.secret('tls-2');

    const spec = { secretTemplate: { data: { certurl: 'https://attacker.example' }, annotations: REFLECT } };
    expect(await store('c2', spec, false)).toContain('must not be a key the operator writes');
    await withoutTemplateRules(() => store('c2', spec, false));

    await expectRefused('c2', 'secretTemplate.data: certurl');
    const after = await certs.secret('tls-2');
    expect(after?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
    expect(Object.keys(after?.metadata?.annotations ?? {}).join()).not.toContain('reflector');
  });
});
