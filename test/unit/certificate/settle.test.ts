// settleIssuance(): what a serviceManager reconcile records around decide(). Pure.
import { describe, expect, it } from 'vitest';
import type { BTPCertificate } from '../../../src/api/types.ts';
import type { Plan } from '../../../src/certificate/decide.ts';
import { settleIssuance } from '../../../src/certificate/service-manager-reconcile.ts';
import type { Obtained } from '../../../src/certificate/service-manager-source.ts';
import type { ServiceManagerPort } from '../../../src/sources/service-manager.ts';

const NOW = new Date('2026-01-01T00:00:00Z');
const sm = {} as ServiceManagerPort;
const cert = (
  status: BTPCertificate['status'] = {},
  annotations: Record<string, string> = {},
): BTPCertificate => ({
  apiVersion: 'btpcerts.io/v1alpha1',
  kind: 'BTPCertificate',
  metadata: { name: 'c', namespace: 'n', uid: 'u', generation: 1, resourceVersion: '1', annotations },
  spec: {
    secretName: 's',
    source: { serviceManager: { serviceInstanceName: 'i' } },
    rotatedBindingTTL: '10m',
  },
  status,
});
const plan = (ready: 'True' | 'False', status: BTPCertificate['status'] = {}): Plan => ({
  write: undefined,
  rotate: undefined,
  status: {
    ...status,
    conditions: [
      {
        type: 'Ready',
        status: ready,
        reason: ready === 'True' ? 'Issued' : 'KeyMismatch',
        message: '',
        lastTransitionTime: '',
      },
    ],
  },
  events: [],
  requeueAt: undefined,
});
const credentials = { ok: true as const, certificate: '', key: '', fields: {} };
const candidate = (revision: number): Obtained => ({
  ok: true,
  description: 'd',
  credentials,
  binding: { id: `b${revision}`, name: `n${revision}`, revision },
  candidate: true,
  sm,
});

describe('settleIssuance', () => {
  it('a validated new binding becomes current and the previous one is retired with its TTL', () => {
    const c = cert(
      { binding: { id: 'b1', name: 'n1', revision: 1 }, failedAttempts: 2 },
      { 'btpcerts.io/renew-requested-at': 'x' },
    );
    const { plan: p, deleteNow } = settleIssuance(c, candidate(2), plan('True', c.status), NOW);
    expect(deleteNow).toBeUndefined();
    expect(p.status.binding).toEqual({ id: 'b2', name: 'n2', revision: 2 });
    expect(p.status.retiredBindings).toEqual([
      { id: 'b1', name: 'n1', revision: 1, deleteAfter: '2026-01-01T00:10:00Z' },
    ]);
    expect(p.status.failedAttempts).toBeUndefined();
    expect(p.status.lastRenewRequest).toBe('x');
    expect(p.events).toContainEqual(expect.objectContaining({ reason: 'Rotated' }));
    expect(p.requeueAt).toEqual(new Date('2026-01-01T00:10:00Z'));
  });

  it('a new binding whose credentials fail is deleted and never becomes current; the attempt backs off', () => {
    const c = cert({ binding: { id: 'b1', name: 'n1', revision: 1 } });
    const { plan: p, deleteNow } = settleIssuance(c, candidate(2), plan('False', c.status), NOW);
    expect(deleteNow).toBe('b2');
    expect(p.status.binding?.id).toBe('b1');
    expect(p.status.failedAttempts).toBe(1);
    expect(p.status.nextRetryTime).toBeDefined();
    expect(p.requeueAt?.toISOString().replace('.000', '')).toBe(p.status.nextRetryTime);
  });

  it('a failed renewal keeps the current binding, says why in Renewal, and retries later', () => {
    const c = cert({ binding: { id: 'b1', name: 'n1', revision: 1 }, failedAttempts: 1 });
    const obtained: Obtained = {
      ok: true,
      description: 'd',
      credentials,
      binding: { id: 'b1', name: 'n1', revision: 1 },
      candidate: false,
      sm,
      renewalFailure: { reason: 'ServiceManagerError', message: 'HTTP 503', stalls: false },
    };
    const { plan: p } = settleIssuance(c, obtained, plan('True', c.status), NOW);
    expect(p.status.failedAttempts).toBe(2);
    expect(p.status.conditions?.find((x) => x.type === 'Renewal')).toMatchObject({
      status: 'False',
      reason: 'ServiceManagerError',
    });
    expect(p.events).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'ServiceManagerError' }),
    );
    expect(p.requeueAt).toBeDefined();
  });

  it('a backoff in force brings the next attempt back whatever woke the reconcile', () => {
    const c = cert({ nextRetryTime: '2026-01-01T00:05:00Z', failedAttempts: 3 });
    const obtained: Obtained = {
      ok: false,
      description: 'd',
      reason: 'ServiceManagerError',
      message: 'm',
      sm,
    };
    const { plan: p } = settleIssuance(c, obtained, plan('False', c.status), NOW);
    expect(p.requeueAt).toEqual(new Date('2026-01-01T00:05:00Z'));
    expect(p.status.failedAttempts).toBe(3);
  });
});
