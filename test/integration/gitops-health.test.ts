// What Argo CD and Flux make of the status the operator really writes. Real BTPCertificates are
// driven through their states by the operator in this process (against the test control plane,
// BTP played by the simulator): Ready with a token fetched over mTLS, a missing source that then
// appears, credentials whose key does not match (stalled), and a spec change the operator has not
// seen yet (it is stopped meanwhile). Every version of the objects read from the API server on the
// way is given to deploy/argocd/health.lua, run by a Lua VM as Argo CD runs it, and to the kstatus
// rules Flux uses; both must agree on every one, and each state must come out as documented.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BTPCertificate } from '../../src/api/types.ts';
import { createX509Binding, smClient } from '../simulator/helpers.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { Certificates } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { type ArgoHealth, argoHealth } from '../support/gitops/argocd-health.ts';
import { type KStatus, kstatus } from '../support/gitops/kstatus.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { keyPem, testKey } from '../unit/pki/fixtures.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'gitops-health');
let sim: Simulator;
let operator: RunningOperator | undefined;
let certs: Certificates;

/** Every version of a BTPCertificate read on the way, by resourceVersion. */
const seen = new Map<string, BTPCertificate>();

/** Argo CD's health and kstatus that correspond: the same verdict in each tool's words. */
const SAME: Record<string, KStatus> = { Healthy: 'Current', Progressing: 'InProgress', Degraded: 'Failed' };

function judge(cert: BTPCertificate): { argo: ArgoHealth; flux: KStatus } {
  seen.set(`${cert.metadata.name}@${cert.metadata.resourceVersion}`, cert);
  return { argo: argoHealth(cert), flux: kstatus(cert) };
}

/** Reads `name` until Argo CD would show `health`; returns that object and both verdicts. */
async function until(name: string, health: string) {
  let last: ReturnType<typeof judge> | undefined;
  try {
    return await waitFor(
      async () => {
        const cert = await certs.get(name);
        last = judge(cert);
        return last.argo.status === health ? { cert, ...last } : undefined;
      },
      { timeoutMs: 60_000, description: `${name} ${health}` },
    );
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)} (last: ${JSON.stringify(last)})`);
  }
}

const condition = (cert: BTPCertificate, type: string) =>
  cert.status?.conditions?.find((c) => c.type === type);

async function simulatorCredentials(name: string): Promise<Record<string, string>> {
  const sm = await smClient(sim);
  const b = await createX509Binding(sm, sim.instance('xsuaa-application').id, name).finally(() => sm.close());
  return Object.fromEntries(
    Object.entries(b.credentials).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );
}

const putSecret = (name: string, stringData: Record<string, string>) =>
  core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData } });

const start = () => startOperator(kc, { namespaces: [ns], btpCaPem: sim.caBundlePem });

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 4 } });
  operator = start();
  certs = new Certificates(kc, ns);
});
afterAll(async () => {
  await operator?.stop();
  await sim?.stop();
});

describe('GitOps health of the status the operator writes', () => {
  it('Ready with a token: Healthy and Current; a spec change not yet seen: Progressing and InProgress', async () => {
    await putSecret('healthy-src', await simulatorCredentials('gitops-healthy'));
    await certs.create('healthy', { secretName: 'healthy-tls', source: { secret: { name: 'healthy-src' } } });
    const healthy = await until('healthy', 'Healthy');
    const ready = condition(healthy.cert, 'Ready');
    expect(ready).toMatchObject({ status: 'True', reason: 'Issued' });
    expect(condition(healthy.cert, 'TokenReady')).toMatchObject({ status: 'True', reason: 'TokenIssued' });
    expect(healthy.argo.message).toBe(`Issued: ${ready?.message}`);
    expect(healthy.flux).toBe('Current');

    // The operator is stopped, so the new generation is certainly not observed when it is read.
    await operator?.stop();
    operator = undefined;
    await certs.patchSpec('healthy', { secretTemplate: { labels: { team: 'orders' } } });
    const changed = await certs.get('healthy');
    expect(changed.metadata.generation).toBe((healthy.cert.metadata.generation ?? 0) + 1);
    expect(judge(changed)).toEqual({
      argo: {
        status: 'Progressing',
        message: `Waiting for the operator to observe generation ${changed.metadata.generation}`,
      },
      flux: 'InProgress',
    });

    operator = start();
    const again = await until('healthy', 'Healthy');
    expect(again.cert.status?.observedGeneration).toBe(changed.metadata.generation);
    expect(again.flux).toBe('Current');
  });

  it('a missing source: Progressing and InProgress, with the reason; Healthy once it appears', async () => {
    await certs.create('waiting', { secretName: 'waiting-tls', source: { secret: { name: 'waiting-src' } } });
    const waiting = await waitFor(
      async () => {
        const cert = await certs.get('waiting');
        judge(cert);
        return condition(cert, 'Ready')?.reason === 'SourceNotFound' ? cert : undefined;
      },
      { timeoutMs: 60_000, description: 'waiting SourceNotFound' },
    );
    const reconciling = condition(waiting, 'Reconciling');
    expect(reconciling).toMatchObject({ status: 'True', reason: 'SourceNotFound' });
    expect(judge(waiting)).toEqual({
      argo: { status: 'Progressing', message: `SourceNotFound: ${reconciling?.message}` },
      flux: 'InProgress',
    });

    await putSecret('waiting-src', await simulatorCredentials('gitops-waiting'));
    expect((await until('waiting', 'Healthy')).flux).toBe('Current');
  });

  it('a key that does not match the certificate: Degraded and Failed, with the message', async () => {
    const { fields } = bindingCredentials();
    await putSecret('stalled-src', { ...fields, key: keyPem(testKey('other-binding'), 'pkcs1') });
    await certs.create('stalled', {
      secretName: 'stalled-tls',
      source: { secret: { name: 'stalled-src' } },
      token: { check: false },
    });
    const stalled = await until('stalled', 'Degraded');
    const cond = condition(stalled.cert, 'Stalled');
    expect(cond).toMatchObject({ status: 'True', reason: 'KeyMismatch' });
    expect(condition(stalled.cert, 'Ready')).toMatchObject({ status: 'False', reason: 'KeyMismatch' });
    expect(stalled.argo.message).toBe(`KeyMismatch: ${cond?.message}`);
    expect(stalled.flux).toBe('Failed');
  });

  it('Argo CD and kstatus agree on every version read on the way', () => {
    expect(seen.size).toBeGreaterThanOrEqual(6);
    for (const [version, cert] of seen) {
      const { argo, flux } = { argo: argoHealth(cert), flux: kstatus(cert) };
      // Before its first status write an object has no observedGeneration: kstatus then calls it
      // Current (rule 2 does not apply), Argo CD Progressing (README, "GitOps health").
      const expected = cert.status === undefined ? 'Current' : SAME[argo.status];
      expect({ version, flux }).toEqual({ version, flux: expected });
    }
  });
});
