// The renewal-trigger chain (certificate/policies/renewal-trigger.ts): every Renewal reason, the
// order of the checks, the retry rule of a rotation request, and the request for credentials that
// expired already. Plain values; the leaf is valid from NOW-1d to NOW+6d, so renewal is due from
// about NOW+3.7d.
import { describe, expect, it } from 'vitest';
import type { BTPCertificateStatus } from '../../../../src/api/types.ts';
import { decide, type Observed, type RenewalMechanism } from '../../../../src/certificate/decide.ts';
import { RENEWAL_TRIGGER, rotationRetryMs } from '../../../../src/certificate/policies/renewal-trigger.ts';
import { days } from '../../pki/fixtures.ts';
import { certificate, h, observe, source } from './fixtures.ts';

const DUE = days(5);
const sb = (o: Partial<Extract<RenewalMechanism, { kind: 'service-binding' }>> = {}): RenewalMechanism => ({
  kind: 'service-binding',
  name: 'sb',
  rotationEnabled: true,
  rotationRequested: false,
  ...o,
});
const destination = (nextReadAt = days(10)): RenewalMechanism => ({ kind: 'destination', nextReadAt });
const renewalOf = (o: Partial<Observed>) => {
  const plan = decide(observe(o));
  return { plan, renewal: plan.status.conditions?.find((c) => c.type === 'Renewal') };
};
const fingerprint = decide(observe()).status.sha256Fingerprint;
const asked = (at: Date, fp: string | undefined = fingerprint): BTPCertificateStatus => ({
  lastRotationRequestTime: at.toISOString().replace('.000', ''),
  ...(fp === undefined ? {} : { lastRotationRequestFingerprint: fp }),
});

describe('the renewal-trigger chain', () => {
  it('has its checks in order', () => {
    expect(RENEWAL_TRIGGER.map((c) => c.name)).toEqual([
      'notDue',
      'issuedByServiceManager',
      'renewedByDestination',
      'generatedByOperator',
      'cannotRenew',
      'rotationNotEnabled',
      'rotationBlocked',
      'rotationRequested',
    ]);
  });

  it.each<[string, Partial<Observed>, string, string, boolean]>([
    ['not due yet, whatever the source', { source: source(undefined, sb()) }, 'False', 'NotDue', false],
    [
      'due, serviceManager: it is issuing',
      { now: DUE, source: source(undefined, { kind: 'service-manager' }) },
      'True',
      'Renewing',
      false,
    ],
    [
      'due, destination: the Destination service is read for the renewed certificate',
      { now: DUE, source: source(undefined, destination()) },
      'True',
      'Renewing',
      false,
    ],
    [
      'due, destination, 10 % of the lifetime left and nothing renewed',
      { now: days(5.4), source: source(undefined, destination()) },
      'False',
      'Expiring',
      false,
    ],
    [
      'due, generated: a new key and CSR go out',
      { now: DUE, source: source(undefined, { kind: 'destination-generate' }) },
      'True',
      'Renewing',
      false,
    ],
    [
      'due, generated, and the Destination service failed',
      {
        now: DUE,
        source: source(undefined, {
          kind: 'destination-generate',
          failure: { retryAt: days(5.1), reason: 'DestinationServiceError', message: 'POST x: 503' },
        }),
      },
      'False',
      'DestinationServiceError',
      false,
    ],
    ['due, a Secret source cannot renew', { now: DUE }, 'False', 'SourceCannotRenew', false],
    [
      'due, rotation not enabled',
      { now: DUE, source: source(undefined, sb({ rotationEnabled: false })) },
      'False',
      'RotationNotEnabled',
      false,
    ],
    [
      'due, requested but the BTP operator does not act on it',
      {
        now: DUE,
        source: source(undefined, sb({ rotationRequested: true, rotationBlocked: 'Succeeded is False' })),
      },
      'False',
      'SourceNotReady',
      false,
    ],
    [
      'due: asked to rotate',
      { now: DUE, source: source(undefined, sb()) },
      'True',
      'RotationRequested',
      true,
    ],
    [
      'due, the request stands: not asked again',
      { now: DUE, source: source(undefined, sb({ rotationRequested: true })) },
      'True',
      'RotationRequested',
      false,
    ],
  ])('%s -> %s %s', (_name, o, status, reason, rotates) => {
    const { plan, renewal } = renewalOf(o);
    expect(renewal).toMatchObject({ status, reason });
    expect(plan.rotate !== undefined).toBe(rotates);
    expect(plan.status.lastRotationRequestTime !== undefined).toBe(rotates);
  });

  it('destination: Expiring is a Warning Event once; before, the next read and the Expiring time are the rechecks', () => {
    // Lifetime NOW-1d .. NOW+6d: 10 % is 0.7 d, so Expiring from NOW+5.3d.
    const read = days(5.1);
    const renewing = renewalOf({ now: DUE, source: source(undefined, destination(read)) });
    expect(renewing.plan.requeueAt).toEqual(read);
    expect(renewing.plan.events.map((e) => e.reason)).not.toContain('Expiring');
    const late = renewalOf({ now: days(5.2), source: source(undefined, destination(days(9))) });
    expect(late.plan.requeueAt).toEqual(new Date(days(6).getTime() - 0.7 * 86_400_000));
    const expiring = renewalOf({ now: days(5.4), source: source(undefined, destination(days(5.45))) });
    expect(expiring.plan.events).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'Expiring' }),
    );
    expect(expiring.plan.requeueAt).toEqual(days(5.45));
    const again = renewalOf({
      certificate: certificate({}, { conditions: expiring.plan.status.conditions ?? [] }),
      now: days(5.45),
      source: source(undefined, destination(days(5.5))),
    });
    expect(again.renewal).toMatchObject({ status: 'False', reason: 'Expiring' });
    expect(again.plan.events.map((e) => e.reason)).not.toContain('Expiring');
  });

  it('destination, not due: looked at again at the next read, before the renewal time', () => {
    const { plan } = renewalOf({ source: source(undefined, destination(days(1))) });
    expect(plan.requeueAt).toEqual(days(1));
  });

  it('a request someone else made (the annotation, none of ours recorded) is reported without a moving time', () => {
    const pending = { source: source(undefined, sb({ rotationRequested: true })) };
    const first = renewalOf({ ...pending, now: DUE });
    const later = renewalOf({ ...pending, now: new Date(DUE.getTime() + 60_000) });
    expect(first.renewal).toMatchObject({ status: 'True', reason: 'RotationRequested' });
    expect(first.plan.rotate).toBeUndefined();
    expect(later.renewal?.message).toBe(first.renewal?.message);
  });

  it('a request for this certificate is repeated only after the retry time; one for another is spent', () => {
    const retry = rotationRetryMs(h.leaf.notBefore, h.leaf.notAfter, DUE);
    const justAsked = certificate({}, asked(DUE));
    const at = (ms: number) => new Date(DUE.getTime() + ms);
    const o = (cert = justAsked, now = at(1000)) => ({
      certificate: cert,
      now,
      source: source(undefined, sb()),
    });
    expect(renewalOf(o()).plan.rotate).toBeUndefined();
    expect(renewalOf(o()).plan.requeueAt).toEqual(at(retry));
    expect(renewalOf(o(justAsked, at(retry))).plan.rotate).toEqual({ serviceBinding: 'sb' });
    expect(renewalOf(o(certificate({}, asked(DUE, 'another'))))).toMatchObject({
      plan: { rotate: { serviceBinding: 'sb' } },
    });
    // A request recorded without a fingerprint names no certificate: it waits for the retry time.
    expect(renewalOf(o(certificate({}, asked(DUE, undefined)))).plan.rotate).toBeUndefined();
  });

  it('due, a rotation still running: not asked (the BTP operator would drop the request)', () => {
    const { plan } = renewalOf({ now: DUE, source: source(undefined, sb({ rotationInProgress: true })) });
    expect(plan.rotate).toBeUndefined();
    expect(plan.status.lastRotationRequestTime).toBeUndefined();
  });

  it('a blocked request inside its retry time reads as requested, not blocked', () => {
    const { renewal } = renewalOf({
      certificate: certificate({}, asked(DUE)),
      now: new Date(DUE.getTime() + 1000),
      source: source(undefined, sb({ rotationRequested: true, rotationBlocked: 'Succeeded is False' })),
    });
    expect(renewal).toMatchObject({ reason: 'RotationRequested' });
  });

  it.each<[string, RenewalMechanism, boolean]>([
    ['asks a ServiceBinding that can rotate', sb(), true],
    ['not one with rotation off', sb({ rotationEnabled: false }), false],
    ['not one asked already', sb({ rotationRequested: true }), false],
    // The BTP operator drops a forceRotate set while a rotation runs: the request would be lost.
    ['not one whose rotation is still running', sb({ rotationInProgress: true }), false],
    ['not a Secret source', { kind: 'none' }, false],
  ])('expired credentials: %s; Renewal stays as stored', (_name, mechanism, rotates) => {
    const { plan, renewal } = renewalOf({ now: days(30), source: source(undefined, mechanism) });
    expect(plan.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ reason: 'Expired' });
    expect(renewal).toBeUndefined();
    expect(plan.rotate !== undefined).toBe(rotates);
    expect(plan.status.lastRotationRequestFingerprint !== undefined).toBe(rotates);
  });

  it('expired credentials again after a request (for other, also expired ones): asked again only after the retry', () => {
    const expiredAt = days(30);
    const requestedAt = new Date(expiredAt.getTime() - 5_000);
    const status = asked(requestedAt, 'the fingerprint of another expired certificate');
    const soon = renewalOf({
      certificate: certificate({}, status),
      now: expiredAt,
      source: source(undefined, sb()),
    });
    expect(soon.plan.rotate).toBeUndefined();
    expect(soon.plan.requeueAt?.getTime()).toBeGreaterThan(expiredAt.getTime());
    const afterRetry = renewalOf({
      certificate: certificate({}, status),
      now: new Date(requestedAt.getTime() + 15 * 60_000),
      source: source(undefined, sb()),
    });
    expect(afterRetry.plan.rotate).toEqual({ serviceBinding: 'sb' });
  });
});
