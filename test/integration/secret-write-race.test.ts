// The target Secret changes hands between the operator's read and its write: someone creates it
// after the operator saw it absent, or replaces the operator's own Secret with theirs. The write is
// conditional on what was read, so the other party's Secret survives and the certificate reports
// SecretConflict. The interleaving is made by wrapping the controller's kube boundary: the other
// party acts right after the read returns.
import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BTPCertificateSpec } from '../../src/api/types.ts';
import type { KubeApi } from '../../src/kube/api.ts';
import { type Certificates as C, Certificates, decoded } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'btpcert-write-race');
let operator: RunningOperator;
let certs: C;

/** Runs once, right after the controller's next read of Secret `name` returned `read`. */
const afterRead = new Map<string, (read: V1Secret | undefined) => Promise<void>>();

function interleaving(kube: KubeApi): KubeApi {
  return {
    ...kube,
    async getSecret(namespace, name) {
      const read = await kube.getSecret(namespace, name);
      const hook = namespace === ns ? afterRead.get(name) : undefined;
      if (hook !== undefined) {
        afterRead.delete(name);
        await hook(read);
      }
      return read;
    },
  };
}

/** Another party's TLS Secret (the same type as ours, so that an overwrite would succeed). */
const foreign = (name: string) => ({
  metadata: { name, namespace: ns },
  type: 'kubernetes.io/tls',
  stringData: { 'tls.crt': 'theirs', 'tls.key': 'theirs', mine: 'yes' },
});

/** The certificate reports SecretConflict and the other party's Secret is as they wrote it. */
async function expectTheirsKept(cert: string, secretName: string): Promise<void> {
  await certs.waitForCondition(cert, 'Ready', { status: 'False', reason: 'SecretConflict' });
  const secret = await certs.secret(secretName);
  expect(decoded(secret, 'mine')).toBe('yes');
  expect(decoded(secret, 'tls.crt')).toBe('theirs');
  expect(secret?.metadata?.ownerReferences ?? []).toEqual([]);
}

beforeAll(() => {
  operator = startOperator(kc, { namespaces: [ns], wrapKube: interleaving });
  certs = new Certificates(kc, ns, { token: { check: false } });
});
afterAll(async () => {
  await operator.stop();
});

describe('the Secret write is conditional on the read', () => {
  it('does not overwrite a Secret someone created after the operator saw it absent', async () => {
    const { fields } = bindingCredentials();
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'src-1' }, stringData: fields },
    });
    let created = false;
    afterRead.set('tls-1', async (read) => {
      expect(read).toBeUndefined();
      await core.createNamespacedSecret({ namespace: ns, body: foreign('tls-1') });
      created = true;
    });
    await certs.create('c1', { secretName: 'tls-1', source: { secret: { name: 'src-1' } } });

    await expectTheirsKept('c1', 'tls-1');
    expect(created).toBe(true);
  });

  it('does not overwrite a Secret someone put in place of its own between read and write', async () => {
    const first = bindingCredentials();
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'src-2' }, stringData: first.fields },
    });
    await certs.create('c2', { secretName: 'tls-2', source: { secret: { name: 'src-2' } } });
    await certs.waitForCondition('c2', 'Ready', { status: 'True', reason: 'Issued' });

    let replaced = false;
    afterRead.set('tls-2', async (read) => {
      expect(read?.metadata?.ownerReferences?.[0]?.name).toBe('c2');
      await core.deleteNamespacedSecret({ namespace: ns, name: 'tls-2' });
      await waitFor(async () => (await certs.secret('tls-2')) === undefined, {
        description: 'tls-2 deleted',
      });
      await core.createNamespacedSecret({ namespace: ns, body: foreign('tls-2') });
      replaced = true;
    });
    // New credentials: the operator reads its Secret (the hook replaces it) and writes them.
    const second = bindingCredentials();
    await core.replaceNamespacedSecret({
      namespace: ns,
      name: 'src-2',
      body: { metadata: { name: 'src-2' }, stringData: second.fields },
    });

    await expectTheirsKept('c2', 'tls-2');
    expect(replaced).toBe(true);
  });

  it('a Secret it created is owned as applied: a key dropped from the template later goes', async () => {
    // The Secret is created (not applied) so that a Secret created meanwhile is not overwritten;
    // the fields of a create belong to an Update entry, which a later apply does not remove: the
    // first rewrite converts it.
    const { fields } = bindingCredentials();
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'src-3' }, stringData: fields },
    });
    await certs.create('c3', {
      secretName: 'tls-3',
      source: { secret: { name: 'src-3' } },
      secretTemplate: { data: { extra: '{{clientid}}' }, labels: { team: 'a' } },
    });
    await certs.waitForCondition('c3', 'Ready', { status: 'True', reason: 'Issued' });
    const before = await certs.secret('tls-3');
    expect(decoded(before, 'extra')).toBe(fields.clientid);
    // Issuance is one write of the Secret (issue 11): its fields are owned as applied only once it
    // is rewritten.
    expect(before?.metadata?.managedFields?.map((f) => `${f.manager}/${f.operation}`)).toEqual([
      'btp-cert-operator/Update',
    ]);

    // A merge patch: null removes the template.
    await certs.patchSpec('c3', { secretTemplate: null } as unknown as Partial<BTPCertificateSpec>);
    const hash = (s: V1Secret | undefined) => s?.metadata?.annotations?.['btpcerts.io/data-hash'];
    let after: V1Secret | undefined;
    await waitFor(
      async () => {
        after = await certs.secret('tls-3');
        return hash(after) !== hash(before);
      },
      { description: 'tls-3 rewritten without the template key' },
    );
    expect(after?.data).not.toHaveProperty('extra');
    expect(after?.metadata?.labels).not.toHaveProperty('team');
    expect(after?.metadata?.managedFields?.map((f) => `${f.manager}/${f.operation}`)).toEqual([
      'btp-cert-operator/Apply',
    ]);
  });
});
