// The token gate (certificate/policies/token-gate.ts): every TokenReady outcome, status.token, the
// Events and the token Secret, from plain values. How it gates Ready: ready.test.ts.
import { describe, expect, it } from 'vitest';
import type { BTPCertificateStatus } from '../../../../src/api/types.ts';
import { tokenGate } from '../../../../src/certificate/policies/token-gate.ts';
import type { TokenCheckResult } from '../../../../src/certificate/token.ts';
import { certificate, later, NOW, OK, REVOKED, UNREACHABLE } from './fixtures.ts';

const stored = (status: 'True' | 'False', reason: string): BTPCertificateStatus => ({
  conditions: [
    { type: 'TokenReady', status, reason, message: 'm', lastTransitionTime: '2026-06-01T11:00:00Z' },
  ],
  token: {
    certificateFingerprint: 'f',
    failedChecks: status === 'True' ? 0 : 2,
    lastSuccessTime: '2026-06-01T10:00:00Z',
    nextCheckTime: '2026-06-01T13:00:00Z',
  },
});
const check = (result: TokenCheckResult = OK, fingerprint = 'f') => ({ fingerprint, result });

describe('the token gate', () => {
  it.each<
    [
      string,
      Parameters<typeof certificate>,
      ReturnType<typeof check> | undefined,
      string | undefined,
      string[],
    ]
  >([
    [
      'check off: Disabled',
      [{ token: { check: false } }, stored('True', 'TokenIssued')],
      check(),
      'Disabled',
      [],
    ],
    ['nothing checked yet: TokenCheckPending', [{}], undefined, 'TokenCheckPending', []],
    [
      'no check now: the stored verdict stands',
      [{}, stored('False', 'InvalidClient')],
      undefined,
      undefined,
      [],
    ],
    [
      'a passing check after a failure: TokenIssued, an Event',
      [{}, stored('False', 'InvalidClient')],
      check(),
      'TokenIssued',
      ['TokenIssued'],
    ],
    ['a passing check again: no Event', [{}, stored('True', 'TokenIssued')], check(), 'TokenIssued', []],
    [
      'a failing check: its reason, a Warning',
      [{}, stored('True', 'TokenIssued')],
      check(REVOKED),
      'InvalidClient',
      ['InvalidClient'],
    ],
    [
      'the same failure again: no Event',
      [{}, stored('False', 'InvalidClient')],
      check(REVOKED),
      'InvalidClient',
      [],
    ],
    [
      'another failure: a Warning',
      [{}, stored('False', 'InvalidClient')],
      check(UNREACHABLE),
      'Unreachable',
      ['Unreachable'],
    ],
  ])('%s', (_name, args, c, reason, events) => {
    const gate = tokenGate(certificate(...args), c, NOW);
    expect(gate.tokenReady?.reason).toBe(reason);
    expect(gate.events.map((e) => e.reason)).toEqual(events);
  });

  it('check off: status.token is dropped and nothing is scheduled', () => {
    const gate = tokenGate(
      certificate({ token: { check: false } }, stored('True', 'TokenIssued')),
      undefined,
      NOW,
    );
    expect(gate).toMatchObject({ token: 'drop', nextCheckAt: undefined, tokenSecret: undefined });
  });

  it('no check now: status.token as stored, looked at again at its nextCheckTime', () => {
    const gate = tokenGate(certificate({}, stored('True', 'TokenIssued')), undefined, NOW);
    expect(gate.token).toBeUndefined();
    expect(gate.nextCheckAt).toEqual(new Date('2026-06-01T13:00:00Z'));
  });

  it('no check now and its time has passed (no valid credentials to check): nothing scheduled from it', () => {
    const gate = tokenGate(
      certificate({}, stored('False', 'InvalidClient')),
      undefined,
      later(2 * 3_600_000),
    );
    expect(gate.token).toBeUndefined();
    expect(gate.nextCheckAt).toBeUndefined();
  });

  it('a failure counts and keeps the last success only for the same credentials', () => {
    const cert = certificate({}, stored('True', 'TokenIssued'));
    const same = tokenGate(cert, check(REVOKED), NOW).token;
    const other = tokenGate(cert, check(REVOKED, 'g'), NOW).token;
    expect(same).toMatchObject({
      failedChecks: 1,
      lastSuccessTime: '2026-06-01T10:00:00Z',
      certificateFingerprint: 'f',
    });
    expect(other).toMatchObject({ failedChecks: 1, certificateFingerprint: 'g' });
    expect(other).not.toHaveProperty('lastSuccessTime');
  });

  it('the token Secret: after a passing check, when spec.token.secretName is set', () => {
    const cert = certificate({ token: { secretName: 'tok' } });
    expect(tokenGate(cert, check(), NOW).tokenSecret).toMatchObject({ name: 'tok' });
    expect(tokenGate(cert, check(REVOKED), NOW).tokenSecret).toBeUndefined();
    expect(tokenGate(certificate(), check(), NOW).tokenSecret).toBeUndefined();
  });

  it('the next check is at the whole second status records', () => {
    const gate = tokenGate(certificate(), check(), NOW);
    expect(gate.nextCheckAt?.toISOString().replace('.000', '')).toBe(
      gate.token !== 'drop' ? gate.token?.nextCheckTime : undefined,
    );
  });
});
