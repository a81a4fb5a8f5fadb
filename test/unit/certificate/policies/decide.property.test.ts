// decide() over random observations (a seeded generator, so a failure names its seed and repeats):
// whatever was observed, the plan never writes credentials that are not valid at `now`, never
// deletes the binding that is current after it, never deletes the one current before it unless its
// successor goes into the Secret first, writes every condition from the catalogue, and never puts
// key material into status or Events.
import { describe, expect, it } from 'vitest';
import { isReason } from '../../../../src/api/conditions.ts';
import type { BTPCertificateStatus, Condition } from '../../../../src/api/types.ts';
import { decide, type Observed, type RenewalMechanism } from '../../../../src/certificate/decide.ts';
import type { Issuance } from '../../../../src/certificate/policies/issuance.ts';
import type { TokenCheckResult } from '../../../../src/certificate/token.ts';
import { parseCredentialPems } from '../../../../src/pki/index.ts';
import { concat, days, keyPem, testKey } from '../../pki/fixtures.ts';
import { certificate, credentials, h, NOW, OK, PEMS, REVOKED, source, UNREACHABLE } from './fixtures.ts';

/** mulberry32: a small seeded generator. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const maybe = <T>(value: () => T): T | undefined => (next() < 0.5 ? value() : undefined);
  return { next, pick, maybe };
}

const b = (revision: number) => ({ id: `b${revision}`, name: `n${revision}`, revision });
const iso = (d: Date) => d.toISOString().replace('.000', '');
const PEM_SETS = [
  PEMS,
  PEMS,
  PEMS,
  { ...PEMS, key: keyPem(testKey('other'), 'pkcs1') },
  { ...PEMS, certificate: 'not a certificate' },
  { ...PEMS, certificate: concat(h.leaf, h.root) },
];
const RESULTS: readonly TokenCheckResult[] = [OK, REVOKED, UNREACHABLE];

function randomObserved(seed: number): Observed {
  const r = generator(seed);
  const kind = r.pick(['secret', 'serviceBinding', 'serviceManager', 'serviceManager'] as const);
  const now = r.pick([NOW, days(-3), days(4), days(5.9), days(30)]);
  const stored = (type: string): Condition | undefined =>
    r.maybe(() => ({
      type,
      status: r.pick(['True', 'False', 'Unknown'] as const),
      reason: r.pick(['Issued', 'InvalidClient', 'ServiceManagerError', 'NotDue', 'TokenIssued']),
      message: 'stored',
      lastTransitionTime: iso(days(-2)),
    }));
  const status: BTPCertificateStatus = {
    ...(r.next() < 0.7 ? { binding: b(1) } : {}),
    ...(r.next() < 0.5
      ? { retiredBindings: [{ ...b(0), deleteAfter: iso(r.pick([days(-1), days(1)])) }] }
      : {}),
    ...(r.next() < 0.3 ? { failedAttempts: 2, nextRetryTime: iso(r.pick([days(-1), days(1)])) } : {}),
    ...(r.next() < 0.3 ? { lastRotationRequestTime: iso(days(4)), lastRotationRequestFingerprint: 'x' } : {}),
    conditions: ['Ready', 'TokenReady', 'Renewal'].map(stored).filter((c) => c !== undefined),
  };
  const spec = {
    ...(kind === 'secret' ? {} : {}),
    ...(kind === 'serviceBinding' ? { source: { serviceBinding: { name: 'sb' } } } : {}),
    ...(kind === 'serviceManager'
      ? {
          source: { serviceManager: { serviceInstanceName: 'i', credentialsSecretRef: { name: 'sm' } } },
          rotatedBindingTTL: r.pick(['0s', '10m']),
        }
      : {}),
    ...(r.next() < 0.2 ? { token: { check: false } } : {}),
  };
  const mechanism: RenewalMechanism =
    kind === 'serviceManager'
      ? { kind: 'service-manager' }
      : kind === 'serviceBinding'
        ? {
            kind: 'service-binding',
            name: 'sb',
            rotationEnabled: r.next() < 0.7,
            rotationRequested: r.next() < 0.3,
            ...(r.next() < 0.2 ? { rotationBlocked: 'Succeeded is False' } : {}),
          }
        : { kind: 'none' };
  const src =
    r.next() < 0.15
      ? { ok: false as const, description: 'd', reason: 'SourceNotFound' as const, message: 'gone' }
      : source(r.pick(PEM_SETS), mechanism);
  const issuance: Issuance | undefined =
    kind !== 'serviceManager'
      ? undefined
      : r.pick<Issuance>([
          { kind: 'no-access' },
          { kind: 'unusable' },
          { kind: 'failed', failure: { reason: 'ServiceManagerError', message: 'HTTP 503', stalls: false } },
          { kind: 'current', binding: b(1) },
          {
            kind: 'kept',
            binding: b(1),
            failure: { reason: 'ServiceManagerError', message: 'x', stalls: false },
          },
          { kind: 'candidate', binding: b(2), replaces: { binding: b(1), credentials } },
          { kind: 'candidate', binding: b(2), replaces: undefined },
        ]);
  const result = r.maybe(() => r.pick(RESULTS));
  return {
    certificate: certificate(spec, status),
    source: src,
    secret: r.pick([
      undefined,
      {
        type: 'kubernetes.io/tls',
        labels: {},
        annotations: {},
        data: {},
        resourceVersion: '1',
        controllerUid: 'uid-1',
      },
      { type: 'Opaque', labels: {}, annotations: {}, data: {}, resourceVersion: '1', controllerUid: 'other' },
    ]),
    keystorePassword: undefined,
    now,
    ...(issuance === undefined ? {} : { issuance }),
    ...(result === undefined ? {} : { tokenCheck: { fingerprint: 'f', result } }),
    ...(kind === 'serviceManager'
      ? {
          access: r.pick([
            undefined,
            { exists: false },
            { exists: true, terminating: r.next() < 0.5, held: true },
          ]),
        }
      : {}),
    lastSweptAt: r.maybe(() => NOW.getTime()),
  };
}

describe('decide over random observations', () => {
  const seeds = Array.from({ length: 400 }, (_, i) => i + 1);

  it.each(seeds)('seed %i', (seed) => {
    const o = randomObserved(seed);
    const plan = decide(o);

    // Never writes credentials that are not valid at now.
    if (plan.write !== undefined) {
      const data = plan.write.secret.data;
      const parsed = parseCredentialPems({
        certificate: data['tls.crt'] ?? '',
        key: data['tls.key'] ?? '',
        now: o.now,
      });
      expect(parsed.ok).toBe(true);
    }

    // Never deletes the binding current after the plan; the one current before only once its
    // successor is in the Secret (act writes the Secret before it deletes).
    const deletes = new Set([...plan.deleteBindings, ...plan.retiredDue.map((r) => r.id)]);
    const after = plan.status.binding?.id;
    if (after !== undefined) expect(deletes.has(after)).toBe(false);
    const before = o.certificate.status?.binding?.id;
    if (before !== undefined && deletes.has(before)) {
      expect(after).not.toBe(before);
      expect(plan.write).toBeDefined();
    }
    // A retired binding is deleted only once its time has come.
    for (const r of plan.retiredDue)
      expect(new Date(r.deleteAfter).getTime()).toBeLessThanOrEqual(o.now.getTime());

    // Every condition once, from the catalogue; Stalled and Reconciling never both True.
    const conditions = plan.status.conditions ?? [];
    expect(new Set(conditions.map((c) => c.type)).size).toBe(conditions.length);
    for (const c of conditions) expect(isReason(c.reason) || c.message === 'stored').toBe(true);
    const of = (type: string) => conditions.find((c) => c.type === type);
    for (const type of ['Ready', 'Stalled', 'Reconciling', 'TokenReady']) expect(of(type)).toBeDefined();
    expect(of('Stalled')?.status === 'True' && of('Reconciling')?.status === 'True').toBe(false);
    if (of('Ready')?.status === 'True') {
      expect(of('Stalled')?.status).toBe('False');
      expect(of('Reconciling')?.status).toBe('False');
    }
    for (const e of plan.events) expect(isReason(e.reason)).toBe(true);

    // No key material in status or Events.
    expect(JSON.stringify(plan.status)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(plan.events)).not.toContain('PRIVATE KEY');
  });
});

describe('the random observations reach the cases that matter', () => {
  it('writes, retires and deletes in the same plan, deletes candidates, holds back, fails', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 400; seed++) {
      const o = randomObserved(seed);
      const plan = decide(o);
      const before = o.certificate.status?.binding?.id;
      if (plan.write !== undefined) seen.add('write');
      if (plan.deleteBindings.length > 0) seen.add('candidate deleted');
      if (before !== undefined && plan.retiredDue.some((r) => r.id === before)) seen.add('previous deleted');
      if (plan.status.binding?.id === 'b2') seen.add('promoted');
      const ready = plan.status.conditions?.find((c) => c.type === 'Ready');
      seen.add(`Ready ${ready?.status}`);
    }
    expect([...seen].sort()).toEqual(
      ['Ready False', 'Ready True', 'candidate deleted', 'previous deleted', 'promoted', 'write'].sort(),
    );
  });
});
