// renew and check-token: whether the operator handled a request, and how it ended, read from
// status alone.
import { describe, expect, it } from 'vitest';
import type { BTPCertificateStatus } from '../../../src/api/types.ts';
import { backoffNote, outcomeOf, refusal, resultLine } from '../../../src/cli/requests.ts';
import { certificate, smCertificate } from '../certificate/policies/fixtures.ts';

const cond = (type: string, status: 'True' | 'False', reason: string, message = `${reason} message`) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-11-29T00:00:00Z',
});
const base: BTPCertificateStatus = {
  binding: { id: 'b1', name: 'r1', revision: 1 },
  lastFailureTime: '2026-11-28T00:00:00Z',
  failedAttempts: 1,
  conditions: [cond('Ready', 'True', 'Issued')],
};
const requested = smCertificate(base);
const later = (status: BTPCertificateStatus) => smCertificate({ ...base, ...status });

describe('renew outcome', () => {
  it('is pending until status echoes the value or an attempt fails after the request', () => {
    expect(outcomeOf('renew', requested, requested, 'v')).toEqual({ state: 'pending' });
    expect(outcomeOf('renew', requested, later({ lastRenewRequest: 'older' }), 'v')).toEqual({
      state: 'pending',
    });
  });

  it('succeeds when status.lastRenewRequest is the value, naming the new binding', () => {
    const done = later({
      lastRenewRequest: 'v',
      binding: { id: 'b2', name: 'r2', revision: 2 },
      sha256Fingerprint: 'AB',
      notAfter: '2026-12-01T00:00:00Z',
    });
    expect(outcomeOf('renew', requested, done, 'v')).toEqual({
      state: 'succeeded',
      reason: 'Renewed',
      message: 'binding r2 (revision 2) is current; certificate AB, not after 2026-12-01T00:00:00Z',
    });
  });

  it('fails with the Renewal reason when an attempt after the request failed', () => {
    const failed = later({
      lastFailureTime: '2026-11-29T00:00:00Z',
      nextRetryTime: '2026-11-29T00:01:00Z',
      conditions: [cond('Ready', 'True', 'Issued'), cond('Renewal', 'False', 'ServiceManagerError')],
    });
    expect(outcomeOf('renew', requested, failed, 'v')).toEqual({
      state: 'failed',
      reason: 'ServiceManagerError',
      message: 'ServiceManagerError message; the operator tries again at 2026-11-29T00:01:00Z',
    });
  });

  it('falls back to a failing Ready, then to a plain statement', () => {
    const first = smCertificate({});
    const readyFailed = smCertificate({
      lastFailureTime: '2026-11-29T00:00:00Z',
      failedAttempts: 1,
      conditions: [cond('Ready', 'False', 'InvalidParameters'), cond('Renewal', 'False', 'NotDue')],
    });
    expect(outcomeOf('renew', first, readyFailed, 'v')).toMatchObject({
      state: 'failed',
      reason: 'InvalidParameters',
    });
    const silent = smCertificate({ lastFailureTime: '2026-11-29T00:00:00Z', failedAttempts: 3 });
    expect(outcomeOf('renew', first, silent, 'v')).toEqual({
      state: 'failed',
      reason: 'RenewalFailed',
      message: 'an attempt failed (status.failedAttempts 3); see kubectl btpcert status and its Events',
    });
  });
});

describe('check-token outcome', () => {
  const checked = (token: NonNullable<BTPCertificateStatus['token']>, ready: ReturnType<typeof cond>) =>
    certificate({}, { token, conditions: [ready] });

  it('is pending until status.token.lastCheckRequest is the value', () => {
    const before = checked({ lastCheckRequest: 'old' }, cond('TokenReady', 'True', 'TokenIssued'));
    expect(outcomeOf('check-token', before, before, 'v')).toEqual({ state: 'pending' });
  });

  it('succeeds with TokenReady True, and fails with its reason otherwise', () => {
    const before = certificate();
    const passed = checked(
      { lastCheckRequest: 'v', expiresAt: '2026-11-30T00:00:00Z' },
      cond('TokenReady', 'True', 'TokenIssued', 'a token was fetched'),
    );
    expect(outcomeOf('check-token', before, passed, 'v')).toEqual({
      state: 'succeeded',
      reason: 'TokenIssued',
      message: 'a token was fetched (the token expires 2026-11-30T00:00:00Z)',
    });
    const refused = checked(
      { lastCheckRequest: 'v' },
      cond('TokenReady', 'False', 'InvalidClient', 'the check failed'),
    );
    expect(outcomeOf('check-token', before, refused, 'v')).toEqual({
      state: 'failed',
      reason: 'InvalidClient',
      message: 'the check failed',
    });
  });
});

describe('refusal', () => {
  it('renews serviceManager sources only, and checks tokens only where the check is on', () => {
    expect(refusal('renew', smCertificate())).toBeUndefined();
    expect(refusal('renew', certificate())).toContain(
      'a Secret source is renewed by whoever writes that Secret',
    );
    expect(refusal('renew', certificate({ source: { serviceBinding: { name: 'sb' } } }))).toContain(
      'a serviceBinding source renews when its ServiceBinding rotates',
    );
    expect(
      refusal('renew', certificate({ source: { destination: { destinationName: 'd' } } } as never)),
    ).toContain(
      'a destination source is read again from the Destination service every hour and at its renewal time',
    );
    expect(refusal('check-token', certificate())).toBeUndefined();
    expect(refusal('check-token', certificate({ token: { check: false } }))).toBe(
      'the token check is off (spec.token.check: false)',
    );
    const stored = { credentialsSecretRef: { name: 'b' }, certificateName: 'app.pem' };
    expect(refusal('check-token', certificate({ source: { destination: stored } }))).toContain(
      'the token check does not apply',
    );
    const deleting = smCertificate();
    deleting.metadata.deletionTimestamp = '2026-11-29T00:00:00Z';
    expect(refusal('renew', deleting)).toBe('it is being deleted');
  });
});

describe('result lines', () => {
  it('print what the API holds without terminal control characters', () => {
    const line = resultLine(
      'renew',
      {
        namespace: 'ns',
        name: 'c',
        annotation: 'btpcerts.io/renew-requested-at',
        value: 'v',
        outcome: 'Failed',
        reason: 'ServiceManagerError',
        message: 'answered \u001b[31mred\u001b[0m\r\nbye',
      },
      false,
    );
    expect(line).toBe(
      'btpcertificate.btpcerts.io/c renewal failed (ServiceManagerError): answered \\u001b[31mred\\u001b[0m\\r\\nbye',
    );
  });
});

describe('backoffNote', () => {
  const now = new Date('2026-11-29T12:00:00Z');
  it('says when a failed attempt holds back the renewal just requested', () => {
    const backingOff = smCertificate({ failedAttempts: 2, nextRetryTime: '2026-11-29T12:05:00Z' });
    expect(backoffNote('renew', backingOff, now)).toBe(
      'a failed attempt holds the next one until 2026-11-29T12:05:00Z (status.nextRetryTime); waiting for it',
    );
    expect(backoffNote('check-token', backingOff, now)).toBeUndefined();
    expect(
      backoffNote('renew', smCertificate({ failedAttempts: 2, nextRetryTime: '2026-11-29T11:59:00Z' }), now),
    ).toBeUndefined();
    expect(backoffNote('renew', smCertificate({}), now)).toBeUndefined();
  });
});
