// The Ready chain (certificate/policies/ready.ts) through decide(): every reason it can give, in
// the order it gives them, with the kstatus conditions that follow. Plain values, NOW fixed.
import { describe, expect, it } from 'vitest';
import type { Condition } from '../../../../src/api/types.ts';
import { decide, type Observed, type Plan } from '../../../../src/certificate/decide.ts';
import { READY_CHAIN } from '../../../../src/certificate/policies/ready.ts';
import type { TokenCheckResult } from '../../../../src/certificate/token.ts';
import {
  certificate,
  later,
  NOW,
  OK,
  observe,
  REVOKED,
  smCertificate,
  source,
  UNREACHABLE,
} from './fixtures.ts';

const condition = (plan: Plan, type: string) => plan.status.conditions?.find((c) => c.type === type);
const sm = source(undefined, { kind: 'service-manager' });
const smObserve = (o: Partial<Observed> = {}) =>
  observe({
    certificate: smCertificate({ binding: { id: 'b1', name: 'n1', revision: 1 } }),
    source: sm,
    ...o,
  });
const check = (result: TokenCheckResult = REVOKED) => ({ fingerprint: 'f', result });
const terminating = { exists: true, terminating: true, held: true } as const;

describe('the Ready chain', () => {
  it('has its checks in order: credentials, token, access; Issued when none answers', () => {
    expect(READY_CHAIN.map((c) => c.name)).toEqual([
      'credentialsFailure',
      'tokenRefused',
      'accessTerminating',
    ]);
  });

  it.each<[string, Observed, string, string, 'Stalled' | 'Reconciling' | undefined]>([
    [
      'credentials fail: their reason, before the token and the access',
      smObserve({
        source: { ok: false, description: 'd', reason: 'SourceNotFound', message: 'gone' },
        tokenCheck: check(),
        access: terminating,
      }),
      'False',
      'SourceNotFound',
      'Reconciling',
    ],
    [
      'no token with them: the check reason',
      observe({ tokenCheck: check() }),
      'False',
      'InvalidClient',
      'Stalled',
    ],
    [
      'no token, serviceManager source refused outright: it issues new ones, not stalled',
      smObserve({ tokenCheck: check(), access: terminating }),
      'False',
      'InvalidClient',
      'Reconciling',
    ],
    [
      'a transient token failure is not stalled',
      observe({ tokenCheck: check(UNREACHABLE) }),
      'False',
      'Unreachable',
      'Reconciling',
    ],
    [
      'the access Secret is being deleted',
      smObserve({ access: terminating }),
      'True',
      'AccessSecretTerminating',
      undefined,
    ],
    [
      'the access Secret is being deleted and not held',
      smObserve({ access: { exists: true, terminating: true, held: false } }),
      'True',
      'AccessSecretTerminating',
      undefined,
    ],
    [
      'a held Secret that stays',
      smObserve({ access: { exists: true, terminating: false, held: true } }),
      'True',
      'Issued',
      undefined,
    ],
    ['a passing check', observe({ tokenCheck: check(OK) }), 'True', 'Issued', undefined],
    ['nothing in the way', observe(), 'True', 'Issued', undefined],
  ])('%s', (_name, o, status, reason, kstatus) => {
    const plan = decide(o);
    expect(condition(plan, 'Ready')).toMatchObject({ status, reason });
    for (const k of ['Stalled', 'Reconciling'] as const) {
      expect(condition(plan, k)).toMatchObject(
        k === kstatus ? { status: 'True', reason } : { status: 'False', reason: 'Progressing' },
      );
    }
  });

  it('says why the access Secret stays, naming it and the finalizer', () => {
    const message = condition(decide(smObserve({ access: terminating })), 'Ready')?.message;
    expect(message).toContain('sm');
    expect(message).toContain('btpcerts.io/in-use');
  });

  it('lastTransitionTime moves only when the status differs from the stored one', () => {
    // Stored: Ready False since T0. Valid credentials whose token is refused pass through True on
    // the way in the chain; measured against the stored condition, nothing transitions.
    const t0 = '2026-06-01T11:00:00Z';
    const stored: Condition[] = [
      {
        type: 'Ready',
        status: 'False',
        reason: 'InvalidClient',
        message: 'x',
        lastTransitionTime: t0,
        observedGeneration: 3,
      },
    ];
    const cert = certificate({}, { conditions: stored });
    const refused = decide(observe({ certificate: cert, now: later(60_000), tokenCheck: check() }));
    expect(condition(refused, 'Ready')).toMatchObject({ status: 'False', lastTransitionTime: t0 });
    const passing = decide(observe({ certificate: cert, now: later(60_000), tokenCheck: check(OK) }));
    expect(condition(passing, 'Ready')).toMatchObject({
      status: 'True',
      lastTransitionTime: '2026-06-01T12:01:00Z',
    });
  });

  it('without a check the last verdict stands: stored TokenReady False keeps Ready False', () => {
    const first = decide(observe({ tokenCheck: check() }));
    const again = decide(observe({ certificate: certificate({}, first.status), now: later(1000) }));
    expect(condition(again, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidClient' });
    expect(condition(again, 'TokenReady')).toEqual(condition(first, 'TokenReady'));
    expect(NOW.getTime()).toBeLessThan(later(1000).getTime());
  });
});
