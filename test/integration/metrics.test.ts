// /metrics of running operators, scraped over HTTP from the server main.ts starts: two operators
// over one Lease and a serviceManager BTPCertificate through the BTP simulator. The leader's
// scrape has the certificate gauges, the reconcile, queue-wait, BTP request and token-check
// histograms (each BTP request counted once in the counter and once in the histogram), the queue
// depth, btpcert_leader 1 and the process metrics; the standby's has btpcert_leader 0 and none of
// the leader's counts (a registry per operator).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startHttpServer } from '../../src/observability/health.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../support/btp-simulator/sm-credentials.ts';
import { Certificates, smSource } from '../support/btpcert.ts';
import { type Exposition, find, parseExposition } from '../support/exposition.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { operatorLease } from '../support/operator-identity.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'metrics');
const TIMING = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 250 };

let sim: Simulator;
const operators: { running: RunningOperator; server: Server }[] = [];

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 2 } });
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'sm-access' }, stringData: kymaSecretData(sim.smCredentials.x509) },
  });
  const lease = operatorLease('metrics');
  for (const identity of ['metrics-1', 'metrics-2']) {
    const running = startOperator(kc, {
      namespaces: [ns],
      btpCaPem: sim.caBundlePem,
      leaderElection: { ...lease, identity, timing: TIMING, onLost: () => {} },
    });
    const server = await startHttpServer(0, { metrics: () => running.operator.metrics() });
    operators.push({ running, server });
  }
});
afterAll(async () => {
  for (const o of operators) o.server.close();
  await Promise.all(operators.map((o) => o.running.stop()));
  await sim?.stop();
});

async function scrape(server: Server): Promise<Exposition> {
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  return parseExposition(await res.text());
}

const total = (e: Exposition, name: string, match: Record<string, string> = {}) =>
  find(e, name, match).reduce((sum, s) => sum + s.value, 0);

describe('/metrics of a running operator', () => {
  it('the leader exports the certificate, its reconciles, BTP requests and token checks; the standby its own', async () => {
    await waitFor(() => operators.some((o) => o.running.operator.leading), { description: 'a leader' });
    const [leader, standby] = operators[0]?.running.operator.leading ? operators : [...operators].reverse();
    if (leader === undefined || standby === undefined) throw new Error('two operators expected');

    const certs = new Certificates(kc, ns);
    await certs.create('orders', { secretName: 'orders-tls', source: smSource() });
    const cert = await certs.waitForCondition('orders', 'TokenReady', { status: 'True' }, 120_000);
    await certs.waitForCondition('orders', 'Ready', { status: 'True' });
    const id = { namespace: ns, name: 'orders' };
    // The cache has caught up with the status just read.
    await waitFor(
      async () =>
        find(await scrape(leader.server), 'btpcert_token_expiration_timestamp_seconds', id).length === 1,
      { description: 'the token expiry in the leader scrape' },
    );

    const e = await scrape(leader.server);
    expect(find(e, 'btpcert_leader')[0]?.value).toBe(1);
    expect(
      find(e, 'btpcert_certificate_expiration_timestamp_seconds', { ...id, secret: 'orders-tls' })[0]?.value,
    ).toBe(Date.parse(cert.status?.notAfter ?? '') / 1000);
    expect(
      find(e, 'btpcert_certificate_condition', { ...id, condition: 'Ready', status: 'True' })[0]?.value,
    ).toBe(1);
    expect(
      find(e, 'btpcert_certificate_condition', { ...id, condition: 'TokenReady', status: 'True' })[0]?.value,
    ).toBe(1);
    expect(find(e, 'btpcert_certificate_renewal_timestamp_seconds', id)).toHaveLength(1);

    // Reconciles: counted, timed, and how long each waited for a worker.
    const reconciles = total(e, 'btpcert_reconcile_total');
    expect(reconciles).toBeGreaterThan(0);
    expect(total(e, 'btpcert_reconcile_duration_seconds_count')).toBe(reconciles);
    expect(total(e, 'btpcert_workqueue_wait_duration_seconds_count')).toBe(reconciles);
    expect(find(e, 'btpcert_workqueue_depth')).toHaveLength(1);

    // BTP requests: the binding created through Service Manager (with its access token), the
    // token check's request; each counted and timed once.
    for (const operation of ['sm.createBinding', 'xsuaa.token', 'check.xsuaa.token'])
      expect(
        total(e, 'btpcert_btp_request_duration_seconds_count', { operation }),
        operation,
      ).toBeGreaterThan(0);
    for (const s of find(e, 'btpcert_btp_requests_total')) {
      const latency = find(e, 'btpcert_btp_request_duration_seconds_count', s.labels);
      expect(
        latency.map((l) => l.value),
        JSON.stringify(s.labels),
      ).toEqual([s.value]);
    }
    expect(
      total(e, 'btpcert_token_check_duration_seconds_count', { outcome: 'TokenIssued' }),
    ).toBeGreaterThan(0);
    expect(e.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(e.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');

    // The standby: not leading, and its registry holds none of the leader's work.
    const s = await scrape(standby.server);
    expect(standby.running.operator.leading).toBe(false);
    expect(find(s, 'btpcert_leader')[0]?.value).toBe(0);
    expect(total(s, 'btpcert_reconcile_total')).toBe(0);
    expect(total(s, 'btpcert_btp_requests_total')).toBe(0);
    expect(find(s, 'btpcert_certificate_condition')).toHaveLength(0);
  });
});
