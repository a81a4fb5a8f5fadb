// The operator in the integration tests is its own ServiceAccount, bound to deploy/rbac.yaml, and
// that RBAC grants what the code uses and nothing more: calls outside it are refused with 403 (and
// calls inside it are not, so the refusals are the RBAC's and not a broken identity). The
// namespaced variant (deploy/components/namespaced/role.yaml) alone is enough for a watched
// namespace and grants nothing elsewhere.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AppsV1Api,
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type KubeConfig,
  loadAllYaml,
  RbacAuthorizationV1Api,
  type V1Role,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { Certificates } from '../support/btpcert.ts';
import { REPO_ROOT } from '../support/control-plane/binaries.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { apiError, kubeConfigFromFile, testNamespace, uniqueSuffix } from '../support/kube.ts';
import { startOperator } from '../support/operator.ts';
import { asOperator, OPERATOR_NAMESPACE, OPERATOR_USER } from '../support/operator-identity.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'rbac');
const NO_TOKEN_CHECK = { token: { check: false } } as const;
const CERTS = { group: 'btpcerts.io', version: 'v1alpha1', plural: 'btpcertificates' } as const;

/** 200 when the call succeeds, else its HTTP status. */
async function answer(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (error) {
    const status = apiError(error)?.code;
    if (status === undefined) throw error;
    return status;
  }
}

async function whoAmI(client: KubeConfig) {
  const review = await client.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
  return review.status?.userInfo;
}

describe("the operator's identity", () => {
  it('startOperator runs the operator as its ServiceAccount, not as an admin', async () => {
    const running = startOperator(kc, { namespaces: [ns] });
    try {
      const user = await whoAmI(running.kubeConfig);
      expect(user?.username).toBe(OPERATOR_USER);
      expect(user?.groups).toContain('system:serviceaccounts');
      expect(user?.groups).not.toContain('system:masters');
    } finally {
      await running.stop();
    }
  });

  it('deploy/rbac.yaml: what the code does not use is forbidden', async () => {
    const op = asOperator(kc, inject('operatorToken'));
    const custom = op.makeApiClient(CustomObjectsApi);
    const opCore = op.makeApiClient(CoreV1Api);
    const apps = op.makeApiClient(AppsV1Api);
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'ca' }, data: {} } });
    const certificate = {
      apiVersion: 'btpcerts.io/v1alpha1',
      kind: 'BTPCertificate',
      metadata: { name: 'x' },
    };

    // Granted: the refusals below are the RBAC's.
    expect(await answer(() => opCore.listNamespacedSecret({ namespace: ns }))).toBe(200);
    expect(await answer(() => custom.listNamespacedCustomObject({ ...CERTS, namespace: ns }))).toBe(200);
    expect(await answer(() => opCore.readNamespacedConfigMap({ namespace: ns, name: 'ca' }))).toBe(200);
    expect(
      await answer(() =>
        op
          .makeApiClient(CoordinationV1Api)
          .readNamespacedLease({ namespace: OPERATOR_NAMESPACE, name: `absent-${uniqueSuffix()}` }),
      ),
    ).toBe(404);

    const refused = {
      'create btpcertificates': () =>
        custom.createNamespacedCustomObject({ ...CERTS, namespace: ns, body: certificate }),
      'get btpcertificates': () => custom.getNamespacedCustomObject({ ...CERTS, namespace: ns, name: 'x' }),
      'delete btpcertificates': () =>
        custom.deleteNamespacedCustomObject({ ...CERTS, namespace: ns, name: 'x' }),
      'update btpcertificates/status': () =>
        custom.replaceNamespacedCustomObjectStatus({ ...CERTS, namespace: ns, name: 'x', body: certificate }),
      'delete secrets': () => opCore.deleteNamespacedSecret({ namespace: ns, name: 'x' }),
      'list configmaps': () => opCore.listNamespacedConfigMap({ namespace: ns }),
      'create pods': () =>
        opCore.createNamespacedPod({
          namespace: ns,
          body: { metadata: { name: 'x' }, spec: { containers: [{ name: 'c', image: 'x' }] } },
        }),
      'list deployments (without the workload-restarts component)': () =>
        apps.listNamespacedDeployment({ namespace: ns }),
      'patch deployments (without the workload-restarts component)': () =>
        apps.patchNamespacedDeployment({ namespace: ns, name: 'x', body: [] }),
      'create events.k8s.io events': () =>
        op.makeApiClient(EventsV1Api).createNamespacedEvent({
          namespace: ns,
          body: { metadata: { name: 'x' }, eventTime: new Date() as never, reason: 'X', action: 'X' },
        }),
      'get leases outside the operator namespace': () =>
        op.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: ns, name: 'x' }),
    };
    const answers = Object.fromEntries(
      await Promise.all(Object.entries(refused).map(async ([what, call]) => [what, await answer(call)])),
    );
    expect(answers).toEqual(Object.fromEntries(Object.keys(refused).map((what) => [what, 403])));
  });
});

describe('the namespaced variant', () => {
  it('role.yaml alone lets the operator serve a watched namespace, and nothing beyond it', async () => {
    // A ServiceAccount of its own, so that the cluster-wide binding of the operator's does not
    // count: it holds nothing but role.yaml in `ns`.
    const account = `namespaced-${uniqueSuffix()}`;
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: account } } });
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const docs = loadAllYaml(
      readFileSync(join(REPO_ROOT, 'deploy/components/namespaced/role.yaml'), 'utf8'),
    ) as (V1Role | V1RoleBinding)[];
    for (const doc of docs) {
      if (doc.kind === 'Role') await rbac.createNamespacedRole({ namespace: ns, body: doc as V1Role });
      else {
        const binding = doc as V1RoleBinding;
        await rbac.createNamespacedRoleBinding({
          namespace: ns,
          body: { ...binding, subjects: [{ kind: 'ServiceAccount', name: account, namespace: ns }] },
        });
      }
    }
    const token = (
      await core.createNamespacedServiceAccountToken({
        namespace: ns,
        name: account,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      })
    ).status?.token;
    if (token === undefined) throw new Error('no token');

    const other = asOperator(kc, token).makeApiClient(CoreV1Api);
    expect(await answer(() => other.listNamespacedSecret({ namespace: ns }))).toBe(200);
    expect(await answer(() => other.listSecretForAllNamespaces())).toBe(403);
    expect(await answer(() => other.listNamespacedSecret({ namespace: 'default' }))).toBe(403);

    const running = startOperator(kc, { namespaces: [ns], operatorToken: token });
    try {
      await core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: 'src' }, stringData: bindingCredentials().fields },
      });
      const certs = new Certificates(kc, ns, NO_TOKEN_CHECK);
      await certs.create('c', { secretName: 'c-tls', source: { secret: { name: 'src' } } });
      await certs.waitForCondition('c', 'Ready', { status: 'True' });
      expect((await certs.secret('c-tls'))?.type).toBe('kubernetes.io/tls');
    } finally {
      await running.stop();
    }
  });
});
