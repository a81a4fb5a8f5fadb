// Durations from the spec, at their extremes: a value stored before the CRD bounded it (or one at
// the CRD's bounds) never makes a date the operator cannot write (issue 10, point 10c). Before the
// bounds, rotatedBindingTTL or checkInterval of 99999999999999h made an Invalid Date, and writing
// it to status threw a RangeError in every reconcile.
import { describe, expect, it } from 'vitest';
import {
  MAX_CHECK_INTERVAL,
  MAX_RENEW_BEFORE,
  MAX_ROTATED_BINDING_TTL,
  MIN_CHECK_INTERVAL,
} from '../../../src/api/schema.ts';
import { rotatedBindingTtlMs } from '../../../src/certificate/bindings.ts';
import { boundedDuration, parseGoDuration } from '../../../src/certificate/duration.ts';
import { settleIssuance } from '../../../src/certificate/policies/issuance.ts';
import { renewalTime } from '../../../src/certificate/renewal.ts';
import { checkIntervalMs, nextCheckTime } from '../../../src/certificate/token.ts';
import { certificate, credentials, NOW, OK, smCertificate, UNREACHABLE } from './policies/fixtures.ts';

// 2500000h (285 years) is the kind the old CRD accepted; the others it rejected, but an object
// stored before any rule may hold them.
const HUGE = ['2500000h', '99999999999999h', `${'9'.repeat(63)}h`, `${'9'.repeat(30)}h${'9'.repeat(30)}m`];
const ms = (d: string) => parseGoDuration(d) ?? Number.NaN;

describe('Go durations at their extremes', () => {
  it('parse to a finite number however long the digits (the CRD allows 64 characters)', () => {
    for (const d of HUGE) expect(Number.isFinite(parseGoDuration(d))).toBe(true);
  });

  it.each([
    ['absent: the default', undefined, 5],
    ['unparsable: the default', 'soon', 5],
    ['below the minimum', '1ms', 2],
    ['above the maximum', '99999999999999h', 10],
    ['within', '7ms', 7],
  ])('boundedDuration, %s', (_name, text, expected) => {
    expect(boundedDuration(text, { min: 2, max: 10, fallback: 5 })).toBe(expected);
  });
});

describe('every spec duration is bounded where it is used', () => {
  it.each(HUGE)(
    'rotatedBindingTTL %s: at most the CRD maximum, and the retired binding gets a date',
    (ttl) => {
      const cert = { ...smCertificate(), spec: { ...smCertificate().spec, rotatedBindingTTL: ttl } };
      expect(rotatedBindingTtlMs(cert)).toBe(ms(MAX_ROTATED_BINDING_TTL));
      const b = (revision: number) => ({ id: `b${revision}`, name: `n${revision}`, revision });
      const settled = settleIssuance(
        { ...cert, status: { binding: b(1) } },
        { kind: 'candidate', binding: b(2), replaces: { binding: b(1), credentials } },
        true,
        { binding: b(1) },
        NOW,
      );
      const deleteAfter = settled.status.retiredBindings?.[0]?.deleteAfter ?? '';
      expect(new Date(deleteAfter).getTime()).toBe(NOW.getTime() + ms(MAX_ROTATED_BINDING_TTL));
    },
  );

  it.each(HUGE)(
    'token checkInterval %s: at most the CRD maximum, and the next check has a date',
    (interval) => {
      const cert = certificate({ token: { checkInterval: interval } });
      expect(checkIntervalMs(cert)).toBe(ms(MAX_CHECK_INTERVAL));
      for (const next of [nextCheckTime(cert, OK, 0, NOW), nextCheckTime(cert, UNREACHABLE, 50, NOW)]) {
        expect(Number.isFinite(next.getTime())).toBe(true);
        expect(next.getTime() - NOW.getTime()).toBeLessThanOrEqual(ms(MAX_CHECK_INTERVAL));
      }
      expect(checkIntervalMs(certificate({ token: { checkInterval: '1ns' } }))).toBe(ms(MIN_CHECK_INTERVAL));
    },
  );

  it.each(HUGE)('renewBefore %s: a valid renewal time', (renewBefore) => {
    const notBefore = new Date('2026-01-01T00:00:00Z');
    const notAfter = new Date('2036-01-01T00:00:00Z');
    const at = renewalTime(notBefore, notAfter, { renewBefore });
    expect(Number.isFinite(at.getTime())).toBe(true);
    expect(at.getTime()).toBeGreaterThanOrEqual(notAfter.getTime() - ms(MAX_RENEW_BEFORE));
  });
});
