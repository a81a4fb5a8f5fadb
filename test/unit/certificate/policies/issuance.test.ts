// The serviceManager chains (certificate/policies/issuance.ts): candidate choice and issuance
// settlement, table-driven, plain values, NOW fixed. Moved from settle.test.ts, which tested the
// settleIssuance that rewrote a finished plan; the settlement now returns its part of the plan.
import { describe, expect, it } from 'vitest';
import type { Condition } from '../../../../src/api/types.ts';
import { decide } from '../../../../src/certificate/decide.ts';
import {
  chooseCredentials,
  type Issuance,
  retiredDue,
  settleIssuance,
} from '../../../../src/certificate/policies/issuance.ts';
import {
  credentials,
  later,
  NOW,
  OK,
  observe,
  REVOKED,
  smCertificate,
  source,
  UNREACHABLE,
} from './fixtures.ts';

const b = (revision: number) => ({ id: `b${revision}`, name: `n${revision}`, revision });
const candidate = (revision: number, replaces = true): Issuance => ({
  kind: 'candidate',
  binding: b(revision),
  replaces: replaces ? { binding: b(revision - 1), credentials } : undefined,
});
const failure = { reason: 'ServiceManagerError', message: 'HTTP 503', stalls: false } as const;

describe('settlement', () => {
  it('a validated new binding becomes current and the previous one is retired with its TTL', () => {
    const c = smCertificate({ binding: b(1), failedAttempts: 2 }, { 'btpcerts.io/renew-requested-at': 'x' });
    const s = settleIssuance(c, candidate(2), true, c.status ?? {}, NOW);
    expect(s.deletes).toEqual([]);
    expect(s.promoted).toBe(true);
    expect(s.status.binding).toEqual(b(2));
    expect(s.status.retiredBindings).toEqual([{ ...b(1), deleteAfter: '2026-06-01T12:10:00Z' }]);
    expect(s.status.failedAttempts).toBeUndefined();
    expect(s.status.lastRenewRequest).toBe('x');
    expect(s.events).toContainEqual(expect.objectContaining({ reason: 'Rotated' }));
    expect(s.recheck).toEqual([new Date('2026-06-01T12:10:00Z')]);
  });

  it('a new binding whose credentials fail is deleted and never becomes current; the attempt backs off', () => {
    const c = smCertificate({ binding: b(1) });
    const s = settleIssuance(c, candidate(2), false, c.status ?? {}, NOW);
    expect(s.deletes).toEqual(['b2']);
    expect(s.promoted).toBe(false);
    expect(s.status.binding?.id).toBe('b1');
    expect(s.status.failedAttempts).toBe(1);
    expect(s.renewal).toBeUndefined();
    expect(s.recheck.map((d) => d.toISOString().replace('.000', ''))).toEqual([s.status.nextRetryTime]);
  });

  it('a failed renewal keeps the current binding, says why in Renewal, and retries later', () => {
    const c = smCertificate({ binding: b(1), failedAttempts: 1 });
    const s = settleIssuance(c, { kind: 'kept', binding: b(1), failure }, true, c.status ?? {}, NOW);
    expect(s.status.failedAttempts).toBe(2);
    expect(s.renewal).toMatchObject({ type: 'Renewal', status: 'False', reason: 'ServiceManagerError' });
    expect(s.events).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'ServiceManagerError' }),
    );
    expect(s.recheck).toHaveLength(1);
  });

  it('a backoff in force brings the next attempt back whatever woke the reconcile', () => {
    const c = smCertificate({ nextRetryTime: '2026-06-01T12:05:00Z', failedAttempts: 3 });
    const s = settleIssuance(c, { kind: 'unusable' }, false, c.status ?? {}, NOW);
    expect(s.recheck).toEqual([new Date('2026-06-01T12:05:00Z')]);
    expect(s.status.failedAttempts).toBe(3);
  });

  it('while a failed renewal backs off, Renewal keeps the stored failure verbatim', () => {
    const stored: Condition = {
      type: 'Renewal',
      status: 'False',
      reason: 'ServiceManagerError',
      message: 'renewal failed: HTTP 503',
      lastTransitionTime: '2026-06-01T11:00:00Z',
      observedGeneration: 2,
    };
    const st = {
      binding: b(1),
      failedAttempts: 1,
      nextRetryTime: '2026-06-01T12:05:00Z',
      conditions: [stored],
    };
    const c = smCertificate(st);
    expect(settleIssuance(c, { kind: 'current', binding: b(1) }, true, st, NOW).renewal).toBe(stored);
    // Once the backoff is over, the trigger speaks again.
    expect(
      settleIssuance(c, { kind: 'current', binding: b(1) }, true, st, later(600_000)).renewal,
    ).toBeUndefined();
  });

  it.each<[string, Issuance, string | undefined]>([
    ['issuing failed', { kind: 'failed', failure }, undefined],
    ['a renewal failed', { kind: 'kept', binding: b(1), failure }, 'ServiceManagerError'],
  ])('%s: counts the attempt, Renewal %s', (_name, issuance, renewal) => {
    const c = smCertificate({ binding: b(1) });
    const s = settleIssuance(c, issuance, false, c.status ?? {}, NOW);
    expect(s.status.failedAttempts).toBe(1);
    expect(s.status.lastFailureTime).toBe('2026-06-01T12:00:00Z');
    expect(s.renewal?.reason).toBe(renewal);
  });

  it('not a serviceManager source: nothing to settle', () => {
    const c = smCertificate({ binding: b(1) });
    expect(settleIssuance(c, undefined, true, c.status ?? {}, NOW)).toMatchObject({
      deletes: [],
      events: [],
      recheck: [],
      promoted: false,
    });
  });

  it('retired bindings are due once their time has come, and only with a client', () => {
    const status = {
      retiredBindings: [
        { ...b(1), deleteAfter: '2026-06-01T11:59:59Z' },
        { ...b(2), deleteAfter: '2026-06-01T12:00:01Z' },
      ],
    };
    expect(retiredDue({ kind: 'current', binding: b(3) }, status, NOW).map((r) => r.id)).toEqual(['b1']);
    expect(retiredDue({ kind: 'no-access' }, status, NOW)).toEqual([]);
    expect(retiredDue(undefined, status, NOW)).toEqual([]);
  });
});

describe('candidate choice', () => {
  const sm = source(undefined, { kind: 'service-manager' });
  it.each<[string, Parameters<typeof observe>[0], string[], boolean]>([
    ['no check: decided as it is', { issuance: candidate(2) }, [], false],
    ['a passing check', { issuance: candidate(2), tokenCheck: { fingerprint: 'f', result: OK } }, [], false],
    [
      'refused outright, a binding to fall back to: held back and deleted',
      { issuance: candidate(2), tokenCheck: { fingerprint: 'f', result: REVOKED } },
      ['b2'],
      true,
    ],
    [
      'a passing trouble: held back, not deleted',
      { issuance: candidate(2), tokenCheck: { fingerprint: 'f', result: UNREACHABLE } },
      [],
      true,
    ],
    [
      'a first binding has nothing to fall back to',
      { issuance: candidate(1, false), tokenCheck: { fingerprint: 'f', result: REVOKED } },
      [],
      false,
    ],
  ])('%s', (_name, o, deletes, heldBack) => {
    const chosen = chooseCredentials(
      observe({ certificate: smCertificate({ binding: b(1) }), source: sm, ...o }),
    );
    expect(chosen.deletes).toEqual(deletes);
    expect(chosen.subject.issuance?.kind).toBe(heldBack ? 'kept' : o?.issuance?.kind);
    if (heldBack) {
      expect(chosen.subject.tokenCheck).toBeUndefined();
      expect(chosen.subject.source).toMatchObject({ ok: true, revision: 'b1@r1' });
    }
  });

  it('a held-back rotation keeps Secret and binding, says why in Renewal, backs off', () => {
    const cert = smCertificate({ binding: b(1) });
    const plan = decide(
      observe({
        certificate: cert,
        source: sm,
        issuance: candidate(2),
        tokenCheck: { fingerprint: 'f', result: REVOKED },
      }),
    );
    expect(plan.status.binding).toEqual(b(1));
    expect(plan.deleteBindings).toEqual(['b2']);
    expect(plan.status.failedAttempts).toBe(1);
    const renewal = plan.status.conditions?.find((c) => c.type === 'Renewal');
    expect(renewal).toMatchObject({ status: 'False', reason: 'InvalidClient' });
    expect(renewal?.message).toContain('the new binding n2 failed the token check, n1 stays current');
    // The candidate's check is not the current's: TokenReady is not touched by it.
    expect(plan.status.token).toBeUndefined();
  });
});
