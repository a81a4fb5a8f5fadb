// The operator in the integration tests runs as what it is in a cluster: the ServiceAccount
// btp-cert-operator/btp-cert-operator bound to deploy/rbac.yaml, not as cluster-admin. The global
// setup applies deploy/namespace.yaml and deploy/rbac.yaml and asks the TokenRequest API for a
// token of that ServiceAccount (the test kube-apiserver signs service-account tokens, see
// control-plane.ts); startOperator and spawnOperator use it. Tests keep the admin identity for
// their own setup. A test that needs an optional component's RBAC applies it (withComponent).
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { REPO_ROOT } from './control-plane/binaries.ts';
import { applyManifestFiles, deleteManifestFiles } from './control-plane/manifests.ts';
import { uniqueSuffix } from './kube.ts';

export const OPERATOR_NAMESPACE = 'btp-cert-operator';
export const OPERATOR_SERVICE_ACCOUNT = 'btp-cert-operator';
/** How the API server names the identity (RBAC subjects, audit, SelfSubjectReview). */
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;

const DEPLOY = join(REPO_ROOT, 'deploy');

/** A test run is far shorter; the token must not expire during one. */
const TOKEN_SECONDS = 24 * 3600;

/**
 * Applies the operator's namespace and RBAC (deploy/namespace.yaml, deploy/rbac.yaml) as `admin`
 * and returns a token of the operator's ServiceAccount.
 */
export async function installOperatorIdentity(admin: KubeConfig): Promise<string> {
  await applyManifestFiles(admin, [join(DEPLOY, 'namespace.yaml'), join(DEPLOY, 'rbac.yaml')]);
  const core = admin.makeApiClient(CoreV1Api);
  const request = await core.createNamespacedServiceAccountToken({
    namespace: OPERATOR_NAMESPACE,
    name: OPERATOR_SERVICE_ACCOUNT,
    body: { spec: { audiences: [], expirationSeconds: TOKEN_SECONDS } },
  });
  const token = request.status?.token;
  if (token === undefined || token === '') throw new Error('the TokenRequest API returned no token');
  return token;
}

/** The cluster (server, CA) of `kc`, as the operator's ServiceAccount. */
export function asOperator(kc: KubeConfig, token: string): KubeConfig {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const user = OPERATOR_USER;
  const operator = new KubeConfig();
  operator.loadFromOptions({
    clusters: [cluster],
    users: [{ name: user, token }],
    contexts: [{ name: 'operator', cluster: cluster.name, user }],
    currentContext: 'operator',
  });
  return operator;
}

/**
 * A Lease for leader election among operators of one test: in the operator's own namespace, where
 * deploy/rbac.yaml grants its ServiceAccount Leases; a name of its own per call.
 */
export function operatorLease(prefix: string): { readonly namespace: string; readonly name: string } {
  return { namespace: OPERATOR_NAMESPACE, name: `${prefix}-${uniqueSuffix()}` };
}

/** The RBAC of an optional component of deploy/components; resolves to its removal. */
export async function withComponentRbac(
  admin: KubeConfig,
  component: 'workload-restarts',
): Promise<() => Promise<void>> {
  const files = [join(DEPLOY, 'components', component, 'rbac.yaml')];
  await applyManifestFiles(admin, files);
  return () => deleteManifestFiles(admin, files);
}
