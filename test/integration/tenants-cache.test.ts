// A namespace user cannot make the operator cache Secrets (issue 10, point 7). The informer of
// managed Secrets selects them by the label btpcerts.io/managed=true, which anyone may set: it
// cached every such Secret, data included, so 200 labelled 100 KB Secrets in one namespace put
// their 20 MB (as base64 text) in the operator's heap. Now a labelled Secret is cached only if a
// BTPCertificate controls it, and then without its data; the reconciler reads data from the API.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DATA_HASH_ANNOTATION, MANAGED_LABEL } from '../../src/certificate/secret.ts';
import { Certificates } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { cachedCertificate } from '../support/reconciled.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const attacker = testNamespace(kc, 'cache-attacker');
const victim = testNamespace(kc, 'cache-victim');
const SECRETS = 200;
const SECRET_BYTES = 100 * 1024;
const MB = 1024 * 1024;

let operator: RunningOperator;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after full collections: what is retained. */
function retainedHeap(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const labelled = (name: string, data: Record<string, string>, extra: Partial<V1Secret['metadata']> = {}) => ({
  metadata: { name, labels: { [MANAGED_LABEL]: 'true' }, ...extra },
  data,
});

async function putSource(namespace: string, name: string): Promise<void> {
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name }, stringData: bindingCredentials().fields },
  });
}

/**
 * Creates a certificate in `namespace` and waits until its Secret is in the operator's cache: every
 * change of the namespace's Secrets made before has then been through the informer (one watch,
 * in order).
 */
async function barrier(namespace: string, name: string): Promise<V1Secret> {
  const certs = new Certificates(kc, namespace, { token: { check: false } });
  await putSource(namespace, `${name}-src`);
  await certs.create(name, { secretName: `${name}-tls`, source: { secret: { name: `${name}-src` } } });
  return waitFor(() => operator.controller.managedSecret(namespace, `${name}-tls`), {
    timeoutMs: 60_000,
    description: `${namespace}/${name}-tls in the cache`,
  });
}

beforeAll(() => {
  operator = startOperator(kc, { namespaces: [attacker, victim] });
});
afterAll(async () => {
  await operator.stop();
});

describe('Secrets a namespace user labels', () => {
  it('a cached target Secret carries no data; a labelled Secret no BTPCertificate controls is not cached', async () => {
    const victims = new Certificates(kc, victim, { token: { check: false } });
    await putSource(victim, 'src');
    await victims.create('web', { secretName: 'web-tls', source: { secret: { name: 'src' } } });
    await victims.waitForCondition('web', 'Ready', { status: 'True', reason: 'Issued' });
    const written = await victims.secret('web-tls');
    expect(Object.keys(written?.data ?? {})).toContain('tls.key');

    const cached = await waitFor(() => operator.controller.managedSecret(victim, 'web-tls'), {
      description: 'the victim Secret in the cache',
    });
    expect(cached.data).toBeUndefined();
    expect(cached.stringData).toBeUndefined();
    expect(cached.type).toBe('kubernetes.io/tls');
    expect(cached.metadata?.annotations?.[DATA_HASH_ANNOTATION]).toBe(
      written?.metadata?.annotations?.[DATA_HASH_ANNOTATION],
    );
    expect(cached.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'BTPCertificate', name: 'web', controller: true }),
    ]);

    // The attacker's labelled Secrets: no owner, and an owner that is not a BTPCertificate.
    const payload = { blob: Buffer.alloc(1024, 1).toString('base64') };
    await core.createNamespacedSecret({ namespace: attacker, body: labelled('unowned', payload) });
    const cm = await core.createNamespacedConfigMap({
      namespace: attacker,
      body: { metadata: { name: 'owner' } },
    });
    await core.createNamespacedSecret({
      namespace: attacker,
      body: labelled('owned-by-configmap', payload, {
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            name: 'owner',
            uid: cm.metadata?.uid ?? '',
            controller: true,
          },
        ],
      }),
    });
    const probe = await barrier(attacker, 'probe');
    expect(operator.controller.managedSecret(attacker, 'unowned')).toBeUndefined();
    expect(operator.controller.managedSecret(attacker, 'owned-by-configmap')).toBeUndefined();
    expect(probe.data).toBeUndefined();

    // A Secret that names the attacker's own BTPCertificate as controller is cached (without data)
    // while it does, and leaves the cache when the reference is taken off.
    await core.createNamespacedSecret({
      namespace: attacker,
      body: labelled('decoy', payload, { ownerReferences: probe.metadata?.ownerReferences ?? [] }),
    });
    const decoy = await waitFor(() => operator.controller.managedSecret(attacker, 'decoy'), {
      description: 'the decoy in the cache',
    });
    expect(decoy.data).toBeUndefined();
    await core.replaceNamespacedSecret({
      namespace: attacker,
      name: 'decoy',
      body: labelled('decoy', payload),
    });
    await waitFor(() => operator.controller.managedSecret(attacker, 'decoy') === undefined, {
      description: 'the decoy out of the cache once no BTPCertificate controls it',
    });
  });

  it(`${SECRETS} labelled ${SECRET_BYTES / 1024} KB Secrets in one namespace do not grow the heap by their size`, async () => {
    await barrier(attacker, 'before');
    const before = retainedHeap();
    const data = { blob: Buffer.alloc(SECRET_BYTES, 7).toString('base64') };
    for (let i = 0; i < SECRETS; i += 20)
      await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          core.createNamespacedSecret({ namespace: attacker, body: labelled(`filler-${i + j}`, data) }),
        ),
      );
    await barrier(attacker, 'after');
    const after = retainedHeap();
    const grownMb = (after - before) / MB;
    // Reported, not asserted to the byte. Measured: the old cache retained +32 MB (the base64 text
    // alone is 27 MB), this one +5 to +7 MB, a one-time warm-up (a second batch of 200 added
    // nothing: -1.1 MB); the bound sits between.
    console.log(
      `heap retained before ${(before / MB).toFixed(1)} MB, after ${SECRETS} x ${SECRET_BYTES / 1024} KB labelled Secrets ${(after / MB).toFixed(1)} MB (${grownMb >= 0 ? '+' : ''}${grownMb.toFixed(1)} MB)`,
    );
    expect(operator.controller.managedSecret(attacker, 'filler-0')).toBeUndefined();
    expect(grownMb).toBeLessThan((SECRETS * SECRET_BYTES) / MB);
  });
});

describe('BTPCertificates a namespace user writes', () => {
  it('are cached without managedFields and without annotations the operator does not read', async () => {
    // A BTPCertificate may carry 256 KB of annotations (in all) and its managedFields: the informer kept
    // them all, for every BTPCertificate in the cluster. It keeps the btpcerts.io annotations
    // (renew and token-check requests) and nothing else of that kind.
    const certs = new Certificates(kc, attacker, { token: { check: false } });
    await putSource(attacker, 'fat-src');
    const blob = 'x'.repeat(100 * 1024);
    await certs.create('fat', { secretName: 'fat-tls', source: { secret: { name: 'fat-src' } } });
    await certs.annotate('fat', {
      'blob.example.com/payload': blob,
      'kubectl.kubernetes.io/last-applied-configuration': blob,
      'btpcerts.io/check-token-requested-at': 'kept',
    });
    const cached = await waitFor(
      () => {
        const c = cachedCertificate(operator, attacker, 'fat') as
          | { metadata: { annotations?: Record<string, string>; managedFields?: unknown; labels?: unknown } }
          | undefined;
        return c?.metadata.annotations?.['btpcerts.io/check-token-requested-at'] === 'kept' ? c : undefined;
      },
      { description: 'the annotated certificate in the cache' },
    );
    expect(cached.metadata.managedFields).toBeUndefined();
    expect(Object.keys(cached.metadata.annotations ?? {})).toEqual(['btpcerts.io/check-token-requested-at']);
    expect((await certs.get('fat')).metadata.annotations?.['blob.example.com/payload']).toBe(blob);
  });
});
