// Where the operator's KubeConfig comes from: an explicit kubeconfig file (development, tests),
// otherwise client-node's default chain (KUBECONFIG, ~/.kube/config, then the in-cluster
// service account).
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConfigSource {
  /** A kubeconfig file; when absent, the default chain is used. */
  readonly kubeconfigPath?: string | undefined;
}

export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const kc = new KubeConfig();
  if (source.kubeconfigPath !== undefined && source.kubeconfigPath !== '') {
    kc.loadFromFile(source.kubeconfigPath);
  } else {
    kc.loadFromDefault();
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) {
    throw new Error(
      source.kubeconfigPath
        ? `kubeconfig ${source.kubeconfigPath} has no current cluster`
        : 'no Kubernetes cluster configured',
    );
  }
  return kc;
}
