// The operator process is SIGKILLed at each step of a rotation (after the new binding was created,
// after the Secret was written, before the retired binding is deleted) and started again. The end
// state must be one live binding, no duplicate creations, no orphans, and a Secret that works.
import { X509Certificate } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../support/btp-simulator/sm-credentials.ts';
import { Certificates, decoded } from '../support/btpcert.ts';
import { createNamespace, kubeConfigFromFile, waitFor } from '../support/kube.ts';
import { type OperatorProcess, spawnOperator } from '../support/operator-process.ts';

const kubeconfig = inject('kubeconfig');
const kc = kubeConfigFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
let sim: Simulator;
const processes: OperatorProcess[] = [];
const namespaces: { delete(): Promise<void> }[] = [];

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 12 }, lifetimeOverrideSeconds: 30 });
});
afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await Promise.all(namespaces.map((n) => n.delete()));
  await sim?.stop();
});

const created = (uid: string) =>
  sim.bindings().filter((b) => b.labels['btpcerts.io/certificate-uid']?.includes(uid));

async function scenario(failpoint: string): Promise<void> {
  const ns = await createNamespace(kc, 'crash');
  namespaces.push(ns);
  await core.createNamespacedSecret({
    namespace: ns.name,
    body: { metadata: { name: 'sm-access' }, stringData: kymaSecretData(sim.smCredentials.x509) },
  });
  const certs = new Certificates(kc, ns.name);
  const cert = await certs.create('c', {
    secretName: 'c-tls',
    source: {
      serviceManager: {
        credentialsSecretRef: { name: 'sm-access' },
        serviceInstanceName: 'xsuaa-application',
      },
    },
    rotatedBindingTTL: '3s',
  });
  const uid = cert.metadata.uid;
  const first = spawnOperator({ kubeconfig, namespaces: [ns.name], btpCaPem: sim.caBundlePem, failpoint });
  processes.push(first);
  // The first rotation comes at 2/3 of 30 s; the failpoint kills the process during it.
  expect(await first.exited).toBe('SIGKILL');

  const second = spawnOperator({ kubeconfig, namespaces: [ns.name], btpCaPem: sim.caBundlePem });
  processes.push(second);
  const done = await waitFor(
    async () => {
      const c = await certs.get('c');
      const live = created(uid);
      const ok =
        (c.status?.binding?.revision ?? 0) >= 2 &&
        c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') &&
        (c.status?.retiredBindings ?? []).length === 0 &&
        live.length === 1 &&
        live[0]?.id === c.status?.binding?.id;
      return ok ? c : undefined;
    },
    { description: `recovery after ${failpoint}`, timeoutMs: 90_000, intervalMs: 500 },
  );
  // No duplicate: one binding name per revision was ever created (live ones are unique by name,
  // and the revision of the live one is the one recorded).
  expect(created(uid)[0]?.labels['btpcerts.io/revision']).toEqual([String(done.status?.binding?.revision)]);
  const secret = await certs.secret('c-tls');
  const leaf = new X509Certificate(decoded(secret, 'tls.crt') ?? '');
  expect(leaf.fingerprint256).toBe(done.status?.sha256Fingerprint);
  await second.stop();
}

describe('crash recovery during rotation', () => {
  it.each([['after-binding-created:2'], ['after-secret-written:2'], ['before-retired-deleted:1']])(
    'SIGKILL at %s, restart: one live binding, no duplicates, a correct Secret',
    async (failpoint) => {
      const before = sim.counters();
      await scenario(failpoint);
      const after = sim.counters();
      // Each revision was created once: two creations for one rotation (a third only if a renewal
      // came due again while recovering).
      const creations = (after.bindingsCreated ?? 0) - (before.bindingsCreated ?? 0);
      expect(creations).toBeGreaterThanOrEqual(2);
      expect(creations).toBeLessThanOrEqual(3);
    },
  );
});
