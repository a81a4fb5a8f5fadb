// vitest globalSetup of the integration project: one real control plane (etcd, kube-apiserver,
// kube-controller-manager) for the whole run, with the project's CRDs, the operator's namespace
// and its RBAC installed. Test files get its admin kubeconfig through `inject('kubeconfig')` and a
// token of the operator's ServiceAccount through `inject('operatorToken')` (operator-identity.ts).
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { REPO_ROOT } from './control-plane/binaries.ts';
import { ControlPlane } from './control-plane/control-plane.ts';
import { installOperatorIdentity } from './operator-identity.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the admin kubeconfig of the shared control plane. */
    kubeconfig: string;
    /** A token of the ServiceAccount btp-cert-operator/btp-cert-operator (deploy/rbac.yaml). */
    operatorToken: string;
    /** kube-apiserver gitVersion, e.g. v1.36.3. */
    kubeVersion: string;
    /** Folder with etcd, kube-apiserver, kube-controller-manager and kubectl. */
    kubeBinDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const verbose = process.env.BTPCERTS_CONTROL_PLANE_VERBOSE === '1';
  const controlPlane = await ControlPlane.start({
    log: (line) => {
      if (verbose) console.log(`[control-plane] ${line}`);
    },
  });
  let operatorToken: string;
  try {
    await controlPlane.installCRDs(join(REPO_ROOT, 'crds'));
    operatorToken = await installOperatorIdentity(controlPlane.kubeConfig());
  } catch (error) {
    await controlPlane.stop();
    throw error;
  }
  project.provide('kubeconfig', controlPlane.kubeconfigPath);
  project.provide('operatorToken', operatorToken);
  project.provide('kubeVersion', controlPlane.version);
  project.provide('kubeBinDir', controlPlane.binDir);
  const seconds = (controlPlane.startupMs / 1000).toFixed(1);
  console.log(
    `control plane: kube-apiserver ${controlPlane.version} ready in ${seconds}s (kubeconfig ${controlPlane.kubeconfigPath})`,
  );
  return () => controlPlane.stop();
}
