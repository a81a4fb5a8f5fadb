import { defineConfig } from 'vitest/config';

// Two projects:
// - unit: pure code and the BTP simulator over real TLS on loopback; no Kubernetes.
// - integration: a real etcd + kube-apiserver + kube-controller-manager started once by the
//   global setup; tests receive its kubeconfig through `inject('kubeconfig')`.
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/simulator/**/*.test.ts', 'test/btp/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // One control plane is shared; files run one at a time so that a test that restarts
          // parts of it (or counts writes) is not disturbed by another file.
          fileParallelism: false,
        },
      },
    ],
  },
});
