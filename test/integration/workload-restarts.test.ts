// Opt-in workload restarts: a Deployment annotated btpcerts.io/restart-on-rotation gets its pod
// template patched once per data change of the named Secret, never for metadata-only changes, and
// not when it opts in.
import { AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Certificates, decoded } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { ranSince } from '../support/reconciled.ts';

/** Credentials from the test PKI name hosts that do not exist: their token check is off here
 * (test/integration/token-check.test.ts proves it against the simulator). */
const NO_TOKEN_CHECK = { token: { check: false } } as const;

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const ns = testNamespace(kc, 'workloads');
let operator: RunningOperator;
let certs: Certificates;

const HOUR = 3_600_000;
const credentials = () => bindingCredentials(24 * HOUR).fields;

const restartedAt = (d: V1Deployment) => d.spec?.template.metadata?.annotations?.['btpcerts.io/restarted-at'];
const deployment = () => apps.readNamespacedDeployment({ namespace: ns, name: 'app' });

beforeAll(() => {
  operator = startOperator(kc, { namespaces: [ns] });
  certs = new Certificates(kc, ns, NO_TOKEN_CHECK);
});
afterAll(async () => {
  await operator.stop();
});

describe('restart-on-rotation', () => {
  it('patches the pod template once per data change, not on opt-in or metadata changes', async () => {
    const first = credentials();
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'src' }, stringData: first },
    });
    await certs.create('c', { secretName: 'app-tls', source: { secret: { name: 'src' } } });
    await certs.waitForCondition('c', 'Ready', { status: 'True' });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'app', annotations: { 'btpcerts.io/restart-on-rotation': 'app-tls, other' } },
        spec: {
          selector: { matchLabels: { app: 'app' } },
          template: {
            metadata: { labels: { app: 'app' } },
            spec: { containers: [{ name: 'c', image: 'app:1' }] },
          },
        },
      },
    });
    // Opting in records the current state and restarts nothing.
    await waitFor(async () => (await deployment()).metadata?.annotations?.['btpcerts.io/secrets-hash'], {
      description: 'hash recorded',
    });
    expect(restartedAt(await deployment())).toBeUndefined();

    // New credentials: one restart.
    const second = credentials();
    await core.replaceNamespacedSecret({
      namespace: ns,
      name: 'src',
      body: { metadata: { name: 'src' }, stringData: second },
    });
    await waitFor(async () => decoded(await certs.secret('app-tls'), 'tls.key') === second.key, {
      description: 'rotated',
    });
    const stamp = await waitFor(async () => restartedAt(await deployment()), {
      description: 'pod template patched',
    });
    const generation = (await deployment()).metadata?.generation;

    // A label on the Secret (metadata only): no restart. The workload controller hears of Secret
    // changes from the operator's cache, just before this listener: from then on, a run of the
    // Deployment's key has the labelled Secret to judge (less a millisecond of log-time rounding).
    let labelledAt: number | undefined;
    operator.controller.onManagedSecretChange((secret) => {
      if (secret.metadata?.name === 'app-tls' && secret.metadata.labels?.extra === 'x')
        labelledAt ??= Date.now();
    });
    const tls = await certs.secret('app-tls');
    await core.replaceNamespacedSecret({
      namespace: ns,
      name: 'app-tls',
      body: { ...tls, metadata: { ...tls?.metadata, labels: { ...tls?.metadata?.labels, extra: 'x' } } },
    });
    const since = await waitFor(() => labelledAt, {
      description: 'the labelled Secret in the operator cache',
    });
    await ranSince(operator, `Deployment/${ns}/app`, since - 1, 'the labelled Secret');
    const after = await deployment();
    expect(restartedAt(after)).toBe(stamp);
    expect(after.metadata?.generation).toBe(generation);
  });
});
