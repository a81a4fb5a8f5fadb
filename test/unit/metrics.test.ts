// /metrics: the exposition of one operator's registry (prom-client) from cached BTPCertificates,
// the queue, the BTP clients, the token checker and the leader election, and the health server
// serving it.
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { serverPlan, startHttpServer } from '../../src/observability/health.ts';
import { type MetricsSources, OperatorMetrics, outcomeLabel } from '../../src/observability/metrics.ts';
import { find, parseExposition } from '../support/exposition.ts';

const cert = (name: string, status: Record<string, unknown>) => ({
  apiVersion: 'btpcerts.io/v1alpha1',
  kind: 'BTPCertificate',
  metadata: { name, namespace: 'orders', uid: `uid-${name}`, generation: 1, resourceVersion: '1' },
  spec: { secretName: `${name}-tls`, source: { secret: { name: 'src' } } },
  status,
});

const certificates: unknown[] = [
  cert('a', {
    notAfter: '2026-12-05T00:00:00Z',
    renewalTime: '2026-12-02T16:00:00Z',
    token: { expiresAt: '2026-11-28T12:00:00Z' },
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Issued',
        message: '',
        lastTransitionTime: '2026-11-28T00:00:00Z',
      },
      {
        type: 'TokenReady',
        status: 'True',
        reason: 'TokenIssued',
        message: '',
        lastTransitionTime: '2026-11-28T00:00:00Z',
      },
    ],
  }),
  cert('b"\\', {}),
  { not: 'a certificate' },
];

function operatorMetrics(over: Partial<MetricsSources> = {}): OperatorMetrics {
  const m = new OperatorMetrics({
    certificates: () => certificates,
    queueDepth: () => 2,
    leader: () => true,
    ...over,
  });
  for (let i = 0; i < 3; i++) m.reconciled({ outcome: 'requeue', durationMs: 40, waitMs: 5 });
  m.reconciled({ outcome: 'awaitChange', durationMs: 2_000, waitMs: 0 });
  m.btpRequest('sm.createBinding', '201', 120);
  m.btpRequest('sm.createBinding', '201', 80);
  m.btpRequest('sm.createBinding', 'BtpTimeout', 30_000);
  m.tokenCheck('TokenIssued', 300);
  return m;
}

/** Every family the operator exports itself, with its type and label names (le apart). */
const FAMILIES: Record<string, [type: string, labels: string[]]> = {
  btpcert_certificate_expiration_timestamp_seconds: ['gauge', ['namespace', 'name', 'secret']],
  btpcert_certificate_renewal_timestamp_seconds: ['gauge', ['namespace', 'name']],
  btpcert_certificate_condition: ['gauge', ['namespace', 'name', 'condition', 'status']],
  btpcert_token_expiration_timestamp_seconds: ['gauge', ['namespace', 'name']],
  btpcert_reconcile_total: ['counter', ['outcome']],
  btpcert_reconcile_duration_seconds: ['histogram', ['outcome']],
  btpcert_workqueue_depth: ['gauge', []],
  btpcert_workqueue_wait_duration_seconds: ['histogram', []],
  btpcert_btp_requests_total: ['counter', ['operation', 'outcome']],
  btpcert_btp_request_duration_seconds: ['histogram', ['operation', 'outcome']],
  btpcert_token_check_duration_seconds: ['histogram', ['outcome']],
  btpcert_leader: ['gauge', []],
};

describe('OperatorMetrics', async () => {
  const text = await operatorMetrics().text();
  const lines = text.split('\n');
  const e = parseExposition(text);

  it('exposes expiry, renewal and token expiry as Unix times', () => {
    expect(lines).toContain(
      'btpcert_certificate_expiration_timestamp_seconds{namespace="orders",name="a",secret="a-tls"} 1796428800',
    );
    expect(lines).toContain(
      'btpcert_certificate_renewal_timestamp_seconds{namespace="orders",name="a"} 1796227200',
    );
    expect(lines).toContain(
      'btpcert_token_expiration_timestamp_seconds{namespace="orders",name="a"} 1795867200',
    );
  });

  it('one series per condition status, 1 for the current one; Unknown when absent', () => {
    expect(lines).toContain(
      'btpcert_certificate_condition{namespace="orders",name="a",condition="Ready",status="True"} 1',
    );
    expect(lines).toContain(
      'btpcert_certificate_condition{namespace="orders",name="a",condition="Ready",status="False"} 0',
    );
    expect(lines).toContain(
      'btpcert_certificate_condition{namespace="orders",name="b\\"\\\\",condition="TokenReady",status="Unknown"} 1',
    );
    // Two certificates, two conditions, three statuses; the object that is none is left out.
    expect(find(e, 'btpcert_certificate_condition')).toHaveLength(12);
  });

  it('every family of the operator with its type, HELP and exactly its labels', () => {
    for (const [name, [type, labelNames]] of Object.entries(FAMILIES)) {
      expect(e.types.get(name), name).toBe(type);
      expect(e.help.get(name), name).toMatch(/\S/);
      const samples = e.samples.filter((s) => s.name === name || s.name.startsWith(`${name}_`));
      expect(samples.length, name).toBeGreaterThan(0);
      for (const s of samples) {
        const want = s.name.endsWith('_bucket') ? [...labelNames, 'le'] : labelNames;
        expect(Object.keys(s.labels).sort(), s.name).toEqual([...want].sort());
      }
    }
    const own = [...e.types.keys()].filter((n) => n.startsWith('btpcert_'));
    expect(own.sort()).toEqual(Object.keys(FAMILIES).sort());
  });

  it('counters, every reconcile outcome from the start', () => {
    expect(lines).toContain('btpcert_reconcile_total{outcome="requeue"} 3');
    expect(lines).toContain('btpcert_reconcile_total{outcome="retry"} 0');
    expect(lines).toContain('btpcert_reconcile_total{outcome="terminal"} 0');
    expect(lines).toContain(
      'btpcert_btp_requests_total{operation="sm.createBinding",outcome="BtpTimeout"} 1',
    );
    expect(lines).toContain('btpcert_btp_requests_total{operation="sm.createBinding",outcome="201"} 2');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('histograms in seconds: reconcile, queue wait, BTP request, token check', () => {
    const requeue = { outcome: 'requeue' };
    expect(find(e, 'btpcert_reconcile_duration_seconds_count', requeue)[0]?.value).toBe(3);
    expect(find(e, 'btpcert_reconcile_duration_seconds_sum', requeue)[0]?.value).toBeCloseTo(0.12);
    expect(find(e, 'btpcert_reconcile_duration_seconds_bucket', { ...requeue, le: '0.05' })[0]?.value).toBe(
      3,
    );
    expect(find(e, 'btpcert_reconcile_duration_seconds_bucket', { ...requeue, le: '0.025' })[0]?.value).toBe(
      0,
    );
    expect(find(e, 'btpcert_reconcile_duration_seconds_count', { outcome: 'retry' })[0]?.value).toBe(0);
    expect(find(e, 'btpcert_workqueue_wait_duration_seconds_count')[0]?.value).toBe(4);
    expect(find(e, 'btpcert_workqueue_wait_duration_seconds_sum')[0]?.value).toBeCloseTo(0.015);
    const created = { operation: 'sm.createBinding', outcome: '201' };
    expect(find(e, 'btpcert_btp_request_duration_seconds_count', created)[0]?.value).toBe(2);
    expect(find(e, 'btpcert_btp_request_duration_seconds_sum', created)[0]?.value).toBeCloseTo(0.2);
    const timedOut = { operation: 'sm.createBinding', outcome: 'BtpTimeout', le: '10' };
    expect(find(e, 'btpcert_btp_request_duration_seconds_bucket', timedOut)[0]?.value).toBe(0);
    expect(find(e, 'btpcert_token_check_duration_seconds_count', { outcome: 'TokenIssued' })[0]?.value).toBe(
      1,
    );
  });

  it('queue depth and leader status read at scrape time', async () => {
    let leader = false;
    let depth = 0;
    const m = operatorMetrics({ leader: () => leader, queueDepth: () => depth });
    const scrape = async () => {
      const x = parseExposition(await m.text());
      return [find(x, 'btpcert_leader')[0]?.value, find(x, 'btpcert_workqueue_depth')[0]?.value];
    };
    expect(await scrape()).toEqual([0, 0]);
    leader = true;
    depth = 7;
    expect(await scrape()).toEqual([1, 7]);
  });

  it('a certificate gone from the cache is gone from the next scrape', async () => {
    const cached = [...certificates];
    const m = operatorMetrics({ certificates: () => cached });
    expect(
      find(parseExposition(await m.text()), 'btpcert_certificate_condition', { name: 'a' }),
    ).toHaveLength(6);
    cached.splice(0, 1);
    const after = parseExposition(await m.text());
    expect(find(after, 'btpcert_certificate_condition', { name: 'a' })).toHaveLength(0);
    expect(find(after, 'btpcert_certificate_expiration_timestamp_seconds')).toHaveLength(0);
  });

  it('the process and Node.js metrics', () => {
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_gc_duration_seconds',
    ])
      expect(e.types.has(name), name).toBe(true);
  });

  it('one registry per operator: another counts its own', async () => {
    const other = new OperatorMetrics({ certificates: () => [], queueDepth: () => 0, leader: () => false });
    other.btpRequest('sm.createBinding', '201', 10);
    const x = parseExposition(await other.text());
    expect(find(x, 'btpcert_btp_requests_total', { outcome: '201' })[0]?.value).toBe(1);
    expect(find(x, 'btpcert_reconcile_total', { outcome: 'requeue' })[0]?.value).toBe(0);
    expect(find(x, 'btpcert_certificate_condition')).toHaveLength(0);
    // Both still render the process metrics, which are one set per process.
    expect(x.types.has('process_cpu_seconds_total')).toBe(true);
  });

  it.each([
    ['200', '200'],
    ['429', '429'],
    ['418', '4xx'],
    ['299', '2xx'],
    ['999', 'other'],
    ['BtpTimeout', 'BtpTimeout'],
  ])('the outcome label of %s is %s: bounded whatever a server answers', (outcome, label) => {
    expect(outcomeLabel(outcome)).toBe(label);
  });
});

describe('health server', () => {
  it('serves /metrics next to /healthz and /readyz', async () => {
    const server = await startHttpServer(0, { ready: () => false, metrics: () => operatorMetrics().text() });
    try {
      const port = (server.address() as AddressInfo).port;
      const get = async (path: string) => {
        const res = await request(`http://127.0.0.1:${port}${path}`);
        return { status: res.statusCode, type: res.headers['content-type'], body: await res.body.text() };
      };
      const metrics = await get('/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.type).toContain('text/plain; version=0.0.4');
      expect(metrics.body).toContain('btpcert_reconcile_total');
      expect((await get('/readyz')).status).toBe(503);
      expect((await get('/healthz')).status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('serverPlan', () => {
  it.each([
    ['default: /metrics next to the probes', 8081, undefined, [{ port: 8081, health: true, metrics: true }]],
    ['the same port: the same', 8081, 8081, [{ port: 8081, health: true, metrics: true }]],
    [
      'a port of its own',
      8081,
      8080,
      [
        { port: 8081, health: true, metrics: false },
        { port: 8080, health: false, metrics: true },
      ],
    ],
    ['metrics off', 8081, 0, [{ port: 8081, health: true, metrics: false }]],
    ['probes off, metrics on their own', 0, 8080, [{ port: 8080, health: false, metrics: true }]],
    ['probes off, metrics with them', 0, undefined, []],
  ] as const)('%s', (_name, health, metrics, want) => {
    expect(serverPlan(health, metrics)).toEqual(want);
  });
});
