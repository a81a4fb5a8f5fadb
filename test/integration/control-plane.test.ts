// Proves that the integration tests run against a real control plane: CRDs are served and
// validated by kube-apiserver, kube-controller-manager collects garbage and finishes namespace
// deletion, the version is the pinned one, and a kube-apiserver restart keeps etcd's data.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  loadAllYaml,
  VersionApi,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../support/control-plane/binaries.ts';
import { ControlPlane } from '../support/control-plane/control-plane.ts';
import {
  apiError,
  isGone,
  kubeConfigFromFile,
  testNamespace,
  uniqueSuffix,
  waitFor,
} from '../support/kube.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const customObjects = kc.makeApiClient(CustomObjectsApi);

const BTPCERT = { group: 'btpcerts.io', version: 'v1alpha1', plural: 'btpcertificates' } as const;
/** A valid source, so that a test's only schema violation is the one it is about. */
const SOURCE = { secret: { name: 'btp-credentials' } } as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function crdNamesInRepo(): Promise<string[]> {
  const dir = join(REPO_ROOT, 'crds');
  const names: string[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml'))) {
    const documents: unknown[] = loadAllYaml(await readFile(join(dir, file), 'utf8'));
    for (const doc of documents) {
      if (isObject(doc) && doc.kind === 'CustomResourceDefinition' && isObject(doc.metadata)) {
        const { name } = doc.metadata;
        if (typeof name === 'string') names.push(name);
      }
    }
  }
  return names;
}

async function pinnedKubernetesVersion(): Promise<string> {
  const env = await readFile(join(REPO_ROOT, 'hack', 'versions.env'), 'utf8');
  const match = /^KUBERNETES_VERSION=(\S+)$/m.exec(env);
  if (match?.[1] === undefined) throw new Error('KUBERNETES_VERSION not found in hack/versions.env');
  return match[1];
}

/** The rejection of a create call, as HTTP status and Status message. */
async function rejectionOf(create: () => Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await create();
  } catch (error) {
    const parsed = apiError(error);
    if (parsed === undefined) throw error;
    return parsed;
  }
  throw new Error('the API server accepted an object it should have rejected');
}

describe('the shared control plane', () => {
  const namespace = testNamespace(kc, 'control-plane');

  it('serves every CRD in crds/ once it is Established', async () => {
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    const names = await crdNamesInRepo();
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const crd = await extensions.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.find((c) => c.type === 'Established');
      expect(established?.status, `${name} Established`).toBe('True');
    }

    const name = `cert-${uniqueSuffix()}`;
    await customObjects.createNamespacedCustomObject({
      ...BTPCERT,
      namespace,
      body: {
        apiVersion: `${BTPCERT.group}/${BTPCERT.version}`,
        kind: 'BTPCertificate',
        metadata: { name },
        spec: { secretName: 'my-tls', source: SOURCE },
      },
    });
    const readBack: unknown = await customObjects.getNamespacedCustomObject({ ...BTPCERT, namespace, name });
    expect(readBack).toMatchObject({
      kind: 'BTPCertificate',
      metadata: { name },
      spec: { secretName: 'my-tls', source: SOURCE },
    });
  });

  it.each([
    { case: 'without spec.secretName', spec: { source: SOURCE } },
    { case: "with secretName 'Not_Valid'", spec: { secretName: 'Not_Valid', source: SOURCE } },
  ])('rejects a BTPCertificate $case with 422 naming the field', async ({ spec }) => {
    const rejection = await rejectionOf(() =>
      customObjects.createNamespacedCustomObject({
        ...BTPCERT,
        namespace,
        body: {
          apiVersion: `${BTPCERT.group}/${BTPCERT.version}`,
          kind: 'BTPCertificate',
          metadata: { name: `invalid-${uniqueSuffix()}` },
          spec,
        },
      }),
    );
    expect(rejection.code).toBe(422);
    expect(rejection.message).toContain('spec.secretName');
  });

  it('garbage-collects a Secret after its owner is deleted (kube-controller-manager runs)', async () => {
    const owner = await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: `owner-${uniqueSuffix()}` }, data: { role: 'owner' } },
    });
    const ownerName = owner.metadata?.name;
    const ownerUid = owner.metadata?.uid;
    if (ownerName === undefined || ownerUid === undefined)
      throw new Error('created ConfigMap has no name/uid');
    const secretName = `owned-${uniqueSuffix()}`;
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: {
          name: secretName,
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: ownerName, uid: ownerUid }],
        },
        stringData: { key: 'value' },
      },
    });

    await core.deleteNamespacedConfigMap({ namespace, name: ownerName });

    await waitFor(() => isGone(() => core.readNamespacedSecret({ namespace, name: secretName })), {
      description: `Secret ${secretName} to be garbage-collected`,
    });
  });

  it('finishes deleting a namespace with content (namespace controller runs)', async () => {
    const name = `doomed-${uniqueSuffix()}`;
    await core.createNamespace({ body: { metadata: { name } } });
    await core.createNamespacedConfigMap({ namespace: name, body: { metadata: { name: 'content' } } });

    await core.deleteNamespace({ name });

    await waitFor(() => isGone(() => core.readNamespace({ name })), {
      description: `namespace ${name} to be deleted`,
    });
  });

  it('runs the Kubernetes version pinned in hack/versions.env', async () => {
    const pinned = await pinnedKubernetesVersion();
    const served = await kc.makeApiClient(VersionApi).getCode();
    expect(served.gitVersion).toBe(pinned);
    expect(inject('kubeVersion')).toBe(pinned);
  });
});

// restartApiServer() is exercised on a control plane of its own, so that the shared one (and any
// informer a later test file holds on it) is never disturbed. It costs one more start per run.
describe('restartApiServer()', () => {
  let controlPlane: ControlPlane | undefined;

  beforeAll(async () => {
    controlPlane = await ControlPlane.start({ binDir: inject('kubeBinDir') });
  });

  afterAll(async () => {
    await controlPlane?.stop();
  });

  it('brings kube-apiserver back on the same address with the data of etcd intact', async () => {
    if (controlPlane === undefined) throw new Error('control plane did not start');
    const ownKc = controlPlane.kubeConfig();
    const ownCore = ownKc.makeApiClient(CoreV1Api);
    const name = `survivor-${uniqueSuffix()}`;
    await ownCore.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name }, data: { written: 'before the restart' } },
    });

    const serverBefore = controlPlane.server;
    await controlPlane.restartApiServer();
    expect(controlPlane.server).toBe(serverBefore);

    const survivor = await waitFor(
      async () => (await ownCore.readNamespacedConfigMap({ namespace: 'default', name })).data,
      { description: `ConfigMap ${name} to be readable after the restart` },
    );
    expect(survivor).toEqual({ written: 'before the restart' });

    // kube-controller-manager reconnects too: garbage collection still works after the restart.
    const owner = await ownCore.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: `owner-${uniqueSuffix()}` } },
    });
    const ownerName = owner.metadata?.name;
    const ownerUid = owner.metadata?.uid;
    if (ownerName === undefined || ownerUid === undefined)
      throw new Error('created ConfigMap has no name/uid');
    const dependent = `dependent-${uniqueSuffix()}`;
    await ownCore.createNamespacedConfigMap({
      namespace: 'default',
      body: {
        metadata: {
          name: dependent,
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: ownerName, uid: ownerUid }],
        },
      },
    });
    await ownCore.deleteNamespacedConfigMap({ namespace: 'default', name: ownerName });
    await waitFor(
      () => isGone(() => ownCore.readNamespacedConfigMap({ namespace: 'default', name: dependent })),
      {
        description: `ConfigMap ${dependent} to be garbage-collected after the restart`,
      },
    );
  });
});
