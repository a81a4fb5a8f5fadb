// /metrics: the exposition text from cached BTPCertificates and counters, and the health server
// serving it.
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { serverPlan, startHttpServer } from '../../src/observability/health.ts';
import { type MetricsSource, mergeCounts, renderMetrics } from '../../src/observability/metrics.ts';

const cert = (name: string, status: Record<string, unknown>) => ({
  apiVersion: 'btpcerts.io/v1alpha1',
  kind: 'BTPCertificate',
  metadata: { name, namespace: 'orders', uid: `uid-${name}`, generation: 1, resourceVersion: '1' },
  spec: { secretName: `${name}-tls`, source: { secret: { name: 'src' } } },
  status,
});

const source: MetricsSource = {
  certificates: () => [
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
  ],
  reconciles: () => ({ requeue: 3, awaitChange: 1 }),
  btpRequests: () => ({ 'sm.createBinding': { '201': 2, BtpTimeout: 1 } }),
};

describe('renderMetrics', () => {
  const text = renderMetrics(source);
  const lines = text.split('\n');

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
  });

  it('counters, with HELP and TYPE for every family', () => {
    expect(lines).toContain('btpcert_reconcile_total{outcome="requeue"} 3');
    expect(lines).toContain(
      'btpcert_btp_requests_total{operation="sm.createBinding",outcome="BtpTimeout"} 1',
    );
    for (const name of lines.filter((l) => l.startsWith('# TYPE')).map((l) => l.split(' ')[2])) {
      expect(lines.some((l) => l.startsWith(`# HELP ${name} `))).toBe(true);
    }
    expect(lines.filter((l) => l.startsWith('# TYPE'))).toHaveLength(6);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('merges request counts', () => {
    expect(mergeCounts({ a: { '200': 1 } }, { a: { '200': 2, '429': 1 }, b: { '200': 1 } })).toEqual({
      a: { '200': 3, '429': 1 },
      b: { '200': 1 },
    });
  });
});

describe('health server', () => {
  it('serves /metrics next to /healthz and /readyz', async () => {
    const server = await startHttpServer(0, { ready: () => false, metrics: () => renderMetrics(source) });
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
