// Opt-in workload restarts (--workload-restarts): a Deployment labelled and annotated
// btpcerts.io/restart-on-rotation gets its pod template patched once per data change of a Secret it
// names, never for metadata-only changes, and not when it opts in. Off without the flag; a workload
// without the label is neither cached nor touched; a workload names Secrets of its own namespace
// only, so a tenant cannot have its workloads follow (or time) another namespace's rotations.
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Certificates, decoded } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { withComponentRbac } from '../support/operator-identity.ts';
import { ranSince, reconciledAfter } from '../support/reconciled.ts';

/** Credentials from the test PKI name hosts that do not exist: their token check is off here
 * (test/integration/token-check.test.ts proves it against the simulator). */
const NO_TOKEN_CHECK = { token: { check: false } } as const;

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const ns = testNamespace(kc, 'workloads');
const victim = testNamespace(kc, 'workloads-victim');
const tenant = testNamespace(kc, 'workloads-tenant');
const off = testNamespace(kc, 'workloads-off');
let operator: RunningOperator;
let withoutRestarts: RunningOperator;
let removeComponentRbac: () => Promise<void>;

const HOUR = 3_600_000;
const credentials = () => bindingCredentials(24 * HOUR).fields;

const OPT_IN = 'btpcerts.io/restart-on-rotation';
const restartedAt = (d: V1Deployment) => d.spec?.template.metadata?.annotations?.['btpcerts.io/restarted-at'];
const recordedHash = (d: V1Deployment) => d.metadata?.annotations?.['btpcerts.io/secrets-hash'];
const deployment = (namespace: string, name: string) => apps.readNamespacedDeployment({ namespace, name });

beforeAll(async () => {
  // The operator's ServiceAccount may touch workloads only with the component's RBAC.
  removeComponentRbac = await withComponentRbac(kc, 'workload-restarts');
  operator = startOperator(kc, { namespaces: [ns, victim, tenant], workloadRestarts: true });
  withoutRestarts = startOperator(kc, { namespaces: [off] });
});
afterAll(async () => {
  await operator.stop();
  await withoutRestarts.stop();
  await removeComponentRbac();
});

/** A source Secret and a Ready BTPCertificate writing `app-tls` from it, in `namespace`. */
async function certificate(client: KubeConfig, namespace: string): Promise<Certificates> {
  const certs = new Certificates(client, namespace, NO_TOKEN_CHECK);
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'src' }, stringData: credentials() },
  });
  await certs.create('c', { secretName: 'app-tls', source: { secret: { name: 'src' } } });
  await certs.waitForCondition('c', 'Ready', { status: 'True' });
  return certs;
}

/** New credentials in the source: resolves once `app-tls` holds them. */
async function rotate(certs: Certificates, namespace: string): Promise<void> {
  const next = credentials();
  await core.replaceNamespacedSecret({
    namespace,
    name: 'src',
    body: { metadata: { name: 'src' }, stringData: next },
  });
  await waitFor(async () => decoded(await certs.secret('app-tls'), 'tls.key') === next.key, {
    description: `app-tls in ${namespace} rotated`,
  });
}

async function createDeployment(
  namespace: string,
  name: string,
  meta: { labels?: Record<string, string>; annotations?: Record<string, string> },
): Promise<void> {
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name, ...meta },
      spec: {
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'c', image: 'app:1' }] },
        },
      },
    },
  });
}

describe('restart-on-rotation', () => {
  it('patches the pod template once per data change, not on opt-in or metadata changes', async () => {
    const certs = await certificate(kc, ns);
    // Annotated but not labelled: never listed, so never touched. Created first: once the
    // informer holds the labelled one below, it has seen everything created before it.
    await createDeployment(ns, 'unlabelled', { annotations: { [OPT_IN]: 'app-tls' } });
    await createDeployment(ns, 'app', {
      labels: { [OPT_IN]: 'true' },
      annotations: { [OPT_IN]: 'app-tls, other' },
    });
    // Opting in records the current state and restarts nothing.
    await waitFor(async () => recordedHash(await deployment(ns, 'app')), { description: 'hash recorded' });
    expect(restartedAt(await deployment(ns, 'app'))).toBeUndefined();

    // New credentials: one restart.
    await rotate(certs, ns);
    const stamp = await waitFor(async () => restartedAt(await deployment(ns, 'app')), {
      description: 'pod template patched',
    });
    const generation = (await deployment(ns, 'app')).metadata?.generation;
    const unlabelled = await deployment(ns, 'unlabelled');
    expect(recordedHash(unlabelled)).toBeUndefined();
    expect(restartedAt(unlabelled)).toBeUndefined();
    expect(operator.operator.workloads?.caches('Deployment', ns, 'app')).toBe(true);
    expect(operator.operator.workloads?.caches('Deployment', ns, 'unlabelled')).toBe(false);

    // A label on the Secret (metadata only): no restart. The workload controller hears of Secret
    // changes from the operator's cache, just before this listener: from then on, a run of the
    // Deployment's key has the labelled Secret to judge (less a millisecond of log-time rounding).
    // The cache keeps no foreign labels: the version written is what shows the change arrived.
    const cachedAt = new Map<string, number>();
    operator.controller.onManagedSecretChange((secret) => {
      const version = secret.metadata?.resourceVersion;
      if (secret.metadata?.name === 'app-tls' && version !== undefined && !cachedAt.has(version))
        cachedAt.set(version, Date.now());
    });
    const tls = await certs.secret('app-tls');
    const labelled = await core.replaceNamespacedSecret({
      namespace: ns,
      name: 'app-tls',
      body: { ...tls, metadata: { ...tls?.metadata, labels: { ...tls?.metadata?.labels, extra: 'x' } } },
    });
    const since = await waitFor(() => cachedAt.get(labelled.metadata?.resourceVersion ?? ''), {
      description: 'the labelled Secret in the operator cache',
    });
    await ranSince(operator, `Deployment/${ns}/app`, since - 1, 'the labelled Secret');
    const after = await deployment(ns, 'app');
    expect(restartedAt(after)).toBe(stamp);
    expect(after.metadata?.generation).toBe(generation);
  });

  it("a tenant's workload naming another namespace's Secret is not restarted when it rotates", async () => {
    const certs = await certificate(kc, victim);
    await createDeployment(victim, 'app', {
      labels: { [OPT_IN]: 'true' },
      annotations: { [OPT_IN]: 'app-tls' },
    });
    // The tenant has no app-tls of its own: one workload names the victim's by namespace/name,
    // one by its bare name.
    await createDeployment(tenant, 'cross', {
      labels: { [OPT_IN]: 'true' },
      annotations: { [OPT_IN]: `${victim}/app-tls` },
    });
    await createDeployment(tenant, 'same-name', {
      labels: { [OPT_IN]: 'true' },
      annotations: { [OPT_IN]: 'app-tls' },
    });
    await waitFor(async () => recordedHash(await deployment(victim, 'app')), {
      description: 'hash recorded',
    });

    await rotate(certs, victim);
    await waitFor(async () => restartedAt(await deployment(victim, 'app')), {
      description: "the victim's own workload restarted",
    });
    // Proof that the tenant's workloads were judged after the rotation: a change of each wakes it,
    // and its run finds the rotated Secret in the operator's cache.
    const since = Date.now();
    for (const name of ['cross', 'same-name']) {
      await apps.patchNamespacedDeployment({
        namespace: tenant,
        name,
        body: [{ op: 'add', path: '/metadata/labels/touched', value: 'x' }],
      });
      await ranSince(operator, `Deployment/${tenant}/${name}`, since, 'a change after the rotation');
      const d = await deployment(tenant, name);
      expect(d.spec?.template.metadata?.annotations).toBeUndefined();
    }
  });

  it('is off without --workload-restarts: a labelled workload is not touched', async () => {
    const certs = await certificate(kc, off);
    await createDeployment(off, 'app', {
      labels: { [OPT_IN]: 'true' },
      annotations: { [OPT_IN]: 'app-tls' },
    });
    await rotate(certs, off);
    await reconciledAfter(withoutRestarts, off, 'c', () => true, 'the rotated certificate');
    const d = await deployment(off, 'app');
    expect(recordedHash(d)).toBeUndefined();
    expect(restartedAt(d)).toBeUndefined();
    expect(withoutRestarts.operator.workloads).toBeUndefined();
  });
});
