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
  sim.setLifetimeOverride(30);
  const first = spawnOperator({ kubeconfig, namespaces: [ns.name], btpCaPem: sim.caBundlePem, failpoint });
  processes.push(first);
  await waitFor(
    async () => {
      const c = await certs.get('c');
      return (
        c.status?.binding?.revision === 1 &&
        c.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')
      );
    },
    { description: 'first binding issued', timeoutMs: 60_000, intervalMs: 200 },
  );
  // The second binding lives an hour: no renewal comes due again while the operator recovers, so
  // exactly two creations are right.
  sim.setLifetimeOverride(3600);
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
  // No duplicate: every creation the simulator saw for this BTPCertificate, live or deleted since,
  // by binding name: revision 1 and revision 2, once each.
  expect(done.status?.binding?.revision).toBe(2);
  const creations = Object.entries(sim.counters().bindingsCreatedByName).filter(([name]) =>
    name.startsWith(`btpcert-${uid}-`),
  );
  expect(Object.fromEntries(creations)).toEqual({ [`btpcert-${uid}-r1`]: 1, [`btpcert-${uid}-r2`]: 1 });
  expect(created(uid)[0]?.name).toBe(`btpcert-${uid}-r2`);
  const secret = await certs.secret('c-tls');
  const leaf = new X509Certificate(decoded(secret, 'tls.crt') ?? '');
  expect(leaf.fingerprint256).toBe(done.status?.sha256Fingerprint);
  await second.stop();
}

describe('crash recovery during rotation', () => {
  it.each([['after-binding-created:2'], ['after-secret-written:2'], ['before-retired-deleted:1']])(
    'SIGKILL at %s, restart: one live binding, no duplicates, a correct Secret',
    async (failpoint) => {
      await scenario(failpoint);
    },
  );
});
