// The serviceManager source against the real control plane and the BTP simulator: the operator
// issues the binding itself, renews it before it expires with no gap, retires and deletes the old
// one after its TTL, honours renew-requested-at once, and deletes every binding on deletion.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../support/btp-simulator/sm-credentials.ts';
import { Certificates, decoded, smSource } from '../support/btpcert.ts';
import { isGone, kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { reconciledAfter } from '../support/reconciled.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const ns = testNamespace(kc, 'btpcert-sm');
const G = { group: 'btpcerts.io', version: 'v1alpha1', plural: 'btpcertificates' } as const;

let sim: Simulator;
let operator: RunningOperator;
let certs: Certificates;

const live = (uid: string) =>
  sim.bindings().filter((b) => b.phase === 'ready' && b.labels['btpcerts.io/certificate-uid']?.includes(uid));

/**
 * What a workload does with the Secret: a token from `{tokenurl}/oauth/token` (the certurl unless
 * given) with the certificate in the handshake; then, if `withToken` is given, a call with that token.
 */
async function useSecret(
  secretName: string,
  options: { tokenUrlKey?: string; withToken?: (accessToken: string, agent: Agent) => Promise<number> } = {},
): Promise<number> {
  const secret = await certs.secret(secretName);
  const agent = new Agent({
    connect: {
      ca: sim.caBundlePem,
      cert: decoded(secret, 'tls.crt') ?? '',
      key: decoded(secret, 'tls.key') ?? '',
    },
  });
  try {
    const res = await request(`${decoded(secret, options.tokenUrlKey ?? 'certurl')}/oauth/token`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: decoded(secret, 'clientid') ?? '',
      }).toString(),
    });
    if (res.statusCode !== 200 || options.withToken === undefined) {
      await res.body.text();
      return res.statusCode;
    }
    const { access_token: accessToken } = (await res.body.json()) as { access_token: string };
    return await options.withToken(accessToken, agent);
  } finally {
    await agent.close();
  }
}

const tokenWith = (secretName: string) => useSecret(secretName);

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 16 } });
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'sm-access' }, stringData: kymaSecretData(sim.smCredentials.x509) },
  });
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'sm-access-secret' }, stringData: kymaSecretData(sim.smCredentials.secret) },
  });
  operator = startOperator(kc, { namespaces: [ns], btpCaPem: sim.caBundlePem });
  certs = new Certificates(kc, ns);
});
afterAll(async () => {
  await operator?.stop();
  await sim?.stop();
});

describe('serviceManager source', () => {
  it('issues an x509 binding, writes a TLS Secret that fetches a token, and records the binding', async () => {
    const created = await certs.create('issue', { secretName: 'issue-tls', source: smSource() });
    const cert = await certs.waitForCondition('issue', 'Ready', { status: 'True', reason: 'Issued' });
    expect(cert.metadata.finalizers).toContain('btpcerts.io/service-bindings');
    expect(cert.status?.binding).toMatchObject({ name: `btpcert-${created.metadata.uid}-r1`, revision: 1 });
    expect(live(created.metadata.uid)).toHaveLength(1);
    expect(await tokenWith('issue-tls')).toBe(200);
  });

  it('works with client-secret SM access too, and uses it', async () => {
    // Bindings the Service Manager created for a caller, by the OAuth client of its token.
    const createdBy = (clientId: string) =>
      sim.counters().smRequestsByClient[clientId]?.['sm.createBinding'] ?? 0;
    const { secret, x509 } = sim.smCredentials;
    const before = { secret: createdBy(secret.clientid), x509: createdBy(x509.clientid) };
    await certs.create('secret-access', {
      secretName: 'secret-access-tls',
      source: smSource({ credentialsSecretRef: { name: 'sm-access-secret' } }),
    });
    await certs.waitForCondition('secret-access', 'Ready', { status: 'True' });
    expect(createdBy(secret.clientid) - before.secret).toBe(1);
    expect(createdBy(x509.clientid) - before.x509).toBe(0);
  });

  it('deletes a client-secret binding at once and says how to ask for x509', async () => {
    const created = await certs.create('misplaced', {
      secretName: 'misplaced-tls',
      source: smSource({ parametersLocation: 'XSUAA' }),
    });
    const cert = await certs.waitForCondition('misplaced', 'Ready', {
      status: 'False',
      reason: 'NotX509Credentials',
    });
    expect(cert.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain('xsuaa');
    await waitFor(() => live(created.metadata.uid).length === 0, {
      description: 'client-secret binding deleted',
    });
    expect(await certs.secret('misplaced-tls')).toBeUndefined();
    // It retries with backoff (creating and deleting a binding each time): gone before the next
    // test, whose faults would otherwise hit its requests.
    await certs.delete('misplaced');
    await waitFor(() => isGone(() => certs.get('misplaced')), { description: 'misplaced gone' });
  });

  it('waits out its backoff when its current binding is gone from BTP after a failed renewal', async () => {
    // A renewal into client-secret credentials fails and backs off; meanwhile the operator is down
    // and the current binding is deleted in BTP. Every run after the restart treated the missing
    // binding as "issue the next revision right away", ignoring the backoff: it created a binding,
    // deleted it, counted a failure in status, and that status write woke the next run (about every
    // 0.6 s, without end; first seen in tenants-sm, where a hostile Service Manager reused the ID).
    const created = await certs.create('vanished', { secretName: 'vanished-tls', source: smSource() });
    const first = await certs.waitForCondition('vanished', 'Ready', { status: 'True' });
    await certs.patchSpec('vanished', { source: smSource({ parametersLocation: 'XSUAA' }) });
    await certs.annotate('vanished', { 'btpcerts.io/renew-requested-at': '2026-11-29T00:00:00Z' });
    await waitFor(async () => ((await certs.get('vanished')).status?.failedAttempts ?? 0) > 0, {
      description: 'the renewal into client-secret credentials failed',
    });
    const createdSoFar = () =>
      Object.entries(sim.counters().bindingsCreatedByName)
        .filter(([name]) => name.startsWith(`btpcert-${created.metadata.uid}-`))
        .reduce((n, [, count]) => n + count, 0);

    await operator.stop();
    const before = createdSoFar();
    expect(sim.removeBinding(first.status?.binding?.id ?? '')).toBe(true);
    operator = startOperator(kc, { namespaces: [ns], btpCaPem: sim.caBundlePem });
    const gone = await certs.waitForCondition('vanished', 'Ready', {
      status: 'False',
      reason: 'SourceNotFound',
    });
    expect(gone.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      `binding ${first.status?.binding?.name} is gone`,
    );
    // The key settles (no run wakes the next), with at most the retries its backoff allows.
    await reconciledAfter(operator, ns, 'vanished', () => true, 'vanished after its binding was removed');
    expect(createdSoFar() - before).toBeLessThanOrEqual(2);
    await certs.delete('vanished');
    await waitFor(() => isGone(() => certs.get('vanished')), { description: 'vanished gone' });
  });

  it.each([
    ['ServiceInstanceNotFound', { serviceInstanceName: 'no-such-instance' }],
    ['InvalidSMCredentials', { credentialsSecretRef: { name: 'broken-access' } }],
    // No credentialsSecretRef, and this operator runs without --default-sm-credentials.
    ['SMCredentialsNotAllowed', { credentialsSecretRef: undefined }],
  ])('reports %s', async (reason, extra) => {
    await core
      .createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: 'broken-access' }, stringData: { clientid: 'x' } },
      })
      .catch(() => {});
    const name = `bad-${reason.toLowerCase()}`;
    await certs.create(name, { secretName: `${name}-tls`, source: smSource(extra) });
    await certs.waitForCondition(name, 'Ready', { status: 'False', reason });
    expect(await certs.events(name)).toContainEqual(expect.objectContaining({ type: 'Warning', reason }));
  });

  it('renews before expiry with no gap, then deletes the retired binding after its TTL', async () => {
    sim.setLifetimeOverride(40);
    try {
      const created = await certs.create('renew', {
        secretName: 'renew-tls',
        source: smSource(),
        rotatedBindingTTL: '8s',
      });
      const uid = created.metadata.uid;
      const issued = await certs.waitForCondition('renew', 'Ready', { status: 'True' });
      // A workload's view: every few hundred ms, the Secret must hold a key pair that gets a token.
      const failures: string[] = [];
      let samples = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const status = await tokenWith('renew-tls').catch((e: unknown) =>
            e instanceof Error ? e.message : 'error',
          );
          samples += 1;
          if (status !== 200) failures.push(String(status));
          await new Promise((r) => setTimeout(r, 300));
        }
      })();
      // After the first renewal the replaced binding stays live until its deleteAfter.
      const rotated = await waitFor(
        async () => {
          const c = await certs.get('renew');
          return (c.status?.binding?.revision ?? 0) >= 2 ? c : undefined;
        },
        { description: 'first renewal', timeoutMs: 90_000, intervalMs: 200 },
      );
      const retired = rotated.status?.retiredBindings?.[0];
      expect(retired?.id).toBe(issued.status?.binding?.id);
      // Two renewals (at ~2/3 of 40 s each).
      await waitFor(async () => ((await certs.get('renew')).status?.binding?.revision ?? 0) >= 3, {
        description: 'two renewals',
        timeoutMs: 120_000,
        intervalMs: 500,
      });
      sampling = false;
      await sampler;
      expect(samples).toBeGreaterThan(20);
      expect(failures).toEqual([]);
      // Retired bindings go after their TTL, and nothing else is left behind.
      await waitFor(() => live(uid).length === 1, {
        description: 'only the current binding left',
        timeoutMs: 60_000,
      });
      const cert = await certs.get('renew');
      expect(live(uid)[0]?.id).toBe(cert.status?.binding?.id);
      // The replaced binding stayed live until its deleteAfter: the simulator saw it deleted then.
      expect(sim.counters().bindingDeletedAt[retired?.id ?? '']).toBeGreaterThanOrEqual(
        Date.parse(retired?.deleteAfter ?? ''),
      );
      expect(await certs.events('renew')).toContainEqual(expect.objectContaining({ reason: 'Rotated' }));
    } finally {
      sim.setLifetimeOverride(null);
      // Its 40 s certificates would keep renewing (and creating bindings) during the later tests.
      await certs.delete('renew').catch(() => {});
    }
  });

  it('rotates exactly once per new renew-requested-at value', async () => {
    const created = await certs.create('requested', {
      secretName: 'requested-tls',
      source: smSource(),
      rotatedBindingTTL: '1s',
    });
    await certs.waitForCondition('requested', 'Ready', { status: 'True' });
    const annotate = (value: string) =>
      custom.patchNamespacedCustomObject(
        {
          ...G,
          namespace: ns,
          name: 'requested',
          body: { metadata: { annotations: { 'btpcerts.io/renew-requested-at': value } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await annotate('2026-11-28T00:00:00Z');
    await waitFor(
      async () => (await certs.get('requested')).status?.lastRenewRequest === '2026-11-28T00:00:00Z',
      {
        description: 'renew request handled',
      },
    );
    expect((await certs.get('requested')).status?.binding?.revision).toBe(2);
    // The manifest applied again with an edit: the same value, and a spec change the operator is
    // seen to have reconciled (observedGeneration) before anything is judged.
    const reapplied = (await custom.patchNamespacedCustomObject(
      {
        ...G,
        namespace: ns,
        name: 'requested',
        body: {
          metadata: { annotations: { 'btpcerts.io/renew-requested-at': '2026-11-28T00:00:00Z' } },
          spec: { rotatedBindingTTL: '2s' },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { metadata: { generation: number } };
    await waitFor(
      async () => (await certs.get('requested')).status?.observedGeneration === reapplied.metadata.generation,
      { description: 'the re-applied manifest reconciled' },
    );
    expect((await certs.get('requested')).status?.binding?.revision).toBe(2);
    // Every creation the simulator saw for it: revision 1, and the one renewal.
    const creations = Object.entries(sim.counters().bindingsCreatedByName).filter(([name]) =>
      name.startsWith(`btpcert-${created.metadata.uid}-`),
    );
    expect(Object.fromEntries(creations)).toEqual({
      [`btpcert-${created.metadata.uid}-r1`]: 1,
      [`btpcert-${created.metadata.uid}-r2`]: 1,
    });
  });

  it('deletes every binding when the BTPCertificate is deleted, also after Service Manager was down', async () => {
    const created = await certs.create('gone', { secretName: 'gone-tls', source: smSource() });
    await certs.waitForCondition('gone', 'Ready', { status: 'True' });
    expect(live(created.metadata.uid)).toHaveLength(1);
    // Service Manager is down: the BTPCertificate stays (its finalizer), and says why.
    const fault = sim.injectFault({ kind: 'status', route: 'sm.deleteBinding', status: 503, times: 1000 });
    await certs.delete('gone');
    await waitFor(
      async () => (await certs.events('gone')).some((e) => e.reason === 'BindingDeletionFailed'),
      {
        description: 'BindingDeletionFailed event',
        timeoutMs: 120_000,
      },
    );
    expect((await certs.get('gone')).metadata.deletionTimestamp).toBeDefined();
    expect(live(created.metadata.uid)).toHaveLength(1);
    // Back up: the deletion completes.
    sim.removeFault(fault);
    await waitFor(() => isGone(() => certs.get('gone')), {
      description: 'BTPCertificate gone',
      timeoutMs: 180_000,
    });
    expect(live(created.metadata.uid)).toHaveLength(0);
  });

  it('waits as long as each Retry-After form says (seconds, HTTP-date, Go time) before retrying', async () => {
    sim.resetCounters();
    const faults = [
      sim.injectFault({
        kind: 'status',
        route: 'sm.listBindings',
        status: 429,
        times: 1,
        retryAfter: { form: 'http-date', seconds: 5 },
      }),
      sim.injectFault({
        kind: 'status',
        route: 'sm.createBinding',
        status: 429,
        times: 1,
        retryAfter: { form: 'seconds', seconds: 5 },
      }),
    ];
    await certs.create('patient', { secretName: 'patient-tls', source: smSource() });
    // The Go-time form on the create once the first 429 has been used up.
    await waitFor(() => (sim.counters().requests['sm.createBinding']?.['429'] ?? 0) >= 1, {
      description: 'first 429',
    });
    faults.push(
      sim.injectFault({
        kind: 'status',
        route: 'sm.createBinding',
        status: 429,
        times: 1,
        retryAfter: { form: 'go-time', seconds: 5 },
      }),
    );
    await certs.waitForCondition('patient', 'Ready', { status: 'True' }, 120_000);
    for (const f of faults) sim.removeFault(f);
    const gaps = (route: 'sm.listBindings' | 'sm.createBinding') => {
      const t = sim.counters().requestTimes[route] ?? [];
      return t.slice(1).map((x, i) => x - (t[i] ?? 0));
    };
    // 5 s is far from every backoff the operator would use instead (the BTP clients' 0.5 s doubling,
    // +-20 %: at most 1.2 s by the second retry). Dates have whole seconds: "5 s from now" written
    // as a date means more than 4 s.
    expect(gaps('sm.listBindings')[0]).toBeGreaterThanOrEqual(4000); // HTTP-date
    const [afterSeconds, afterGoTime] = gaps('sm.createBinding');
    expect(afterSeconds).toBeGreaterThanOrEqual(5000); // Retry-After: 5
    expect(afterGoTime).toBeGreaterThanOrEqual(4000); // 2024-11-11 14:59:33 +0000 UTC form
  });

  it('gets through 429 and 5xx bursts and a stuck creation: all end Ready, one live binding each', async () => {
    const faults = [
      sim.injectFault({
        kind: 'status',
        route: 'sm.createBinding',
        status: 429,
        times: 2,
        retryAfter: { form: 'seconds', seconds: 1 },
      }),
      sim.injectFault({ kind: 'status', route: 'sm.listBindings', status: 502, times: 2 }),
      sim.injectFault({ kind: 'status', route: 'sm.listInstances', status: 503, times: 3 }),
      sim.injectFault({ kind: 'stuckOperation', route: 'sm.createBinding', times: 1 }),
    ];
    const names = ['storm-a', 'storm-b', 'storm-c', 'storm-d'];
    const uids: string[] = [];
    for (const name of names)
      uids.push((await certs.create(name, { secretName: `${name}-tls`, source: smSource() })).metadata.uid);
    for (const name of names) await certs.waitForCondition(name, 'Ready', { status: 'True' }, 240_000);
    // The operator went through every one of them.
    const fired = sim.counters().faultsFired;
    expect(faults.map((f) => fired[f] ?? 0)).toEqual([2, 2, 3, 1]);
    for (const f of faults) sim.removeFault(f);
    // Exactly one ready binding each (a stuck creation may linger until the orphan sweep, never ready).
    for (const u of uids) expect(live(u).length).toBe(1);
    // The failures on the way (the stuck creation one at least) are history once Ready: the backoff
    // fields are gone from the status on the server, not only from the operator's decision.
    for (const name of names) {
      const { status } = await certs.get(name);
      expect(
        [status?.failedAttempts, status?.lastFailureTime, status?.nextRetryTime],
        `${name}: backoff fields`,
      ).toEqual([undefined, undefined, undefined]);
    }
  }, 300_000);

  it('Retain keeps the binding in BTP', async () => {
    const created = await certs.create('kept', {
      secretName: 'kept-tls',
      source: smSource(),
      deletionPolicy: 'Retain',
    });
    await certs.waitForCondition('kept', 'Ready', { status: 'True' });
    await certs.delete('kept');
    await waitFor(() => isGone(() => certs.get('kept')), { description: 'BTPCertificate gone' });
    expect(live(created.metadata.uid)).toHaveLength(1);
  });
});

describe('recipe: the Kyma BTP operator access Secret', () => {
  it('keeps an SM access certificate fresh in the layout the BTP operator reads, and it works', async () => {
    const smInstance = sim.addInstance({
      name: 'service-manager-access',
      offering: 'service-manager',
      plan: 'service-operator-access',
    });
    await certs.create('btp-operator-access', {
      secretName: 'sap-btp-manager',
      source: {
        serviceManager: {
          credentialsSecretRef: { name: 'sm-access' },
          serviceInstanceID: smInstance.id,
          x509: { keyLength: 2048 as const, validity: 7, validityType: 'DAYS' as const },
        },
      },
      secretTemplate: { data: { sm_url: '{{sm_url}}', tokenurl: '{{certurl}}' } },
    });
    await certs.waitForCondition('btp-operator-access', 'Ready', { status: 'True' });
    const secret = await certs.secret('sap-btp-manager');
    for (const k of ['clientid', 'tls.crt', 'tls.key', 'sm_url', 'tokenurl'])
      expect(decoded(secret, k)).toBeDefined();
    expect(decoded(secret, 'sm_url')).toBe(sim.smUrl);

    // The BTP operator's way of using it: a token from tokenurl + /oauth/token with the certificate,
    // then a Service Manager call with it.
    const status = await useSecret('sap-btp-manager', {
      tokenUrlKey: 'tokenurl',
      withToken: async (accessToken, agent) => {
        const instances = await request(`${decoded(secret, 'sm_url')}/v1/service_instances`, {
          dispatcher: agent,
          headers: { authorization: `Bearer ${accessToken}` },
        });
        await instances.body.text();
        return instances.statusCode;
      },
    });
    expect(status).toBe(200);
  });
});
