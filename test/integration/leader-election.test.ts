// Leader election on a real Lease: one leader among candidates, a clean stop hands over at once,
// an expired lease is taken over, a leader that cannot renew gives up; and two operators over one
// Lease, of which only the leader reconciles.
import { CoordinationV1Api, CoreV1Api, V1MicroTime } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { LeaderElector } from '../../src/kube/leader-election.ts';
import { type Clock, systemClock } from '../../src/runtime/clock.ts';
import { Certificates } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { operatorLease } from '../support/operator-identity.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const leases = kc.makeApiClient(CoordinationV1Api);
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'leader');
const TIMING = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 250 };

/** A lease no test here waits out: only a release explains another candidate taking it over. */
const LONG_LEASE = { ...TIMING, leaseDurationMs: 600_000 };
const silent = pino({ level: 'silent' });
const HOUR = 3_600_000;

const electors: LeaderElector[] = [];
function elector(
  name: string,
  identity: string,
  onLost: () => void = () => {},
  timing: typeof TIMING = TIMING,
  clock: Clock = systemClock,
): LeaderElector {
  const e = new LeaderElector({
    kubeConfig: kc,
    clock,
    logger: silent,
    namespace: ns,
    name,
    identity,
    timing,
    onStartedLeading: () => {},
    onStoppedLeading: onLost,
  });
  electors.push(e);
  e.start();
  return e;
}
afterAll(async () => {
  await Promise.all(electors.map((e) => e.stop()));
});

const holder = async (name: string) => (await leases.readNamespacedLease({ namespace: ns, name })).spec;

describe('LeaderElector', () => {
  it('one leader; a clean stop releases the lease and the other takes over at once', async () => {
    // A 10-minute lease: b can only come to lead within the test's deadlines if a releases it.
    const a = elector('handover', 'a', () => {}, LONG_LEASE);
    await waitFor(() => a.leading, { description: 'a leads' });
    const b = elector('handover', 'b', () => {}, LONG_LEASE);
    // b has tried several times while a holds a fresh lease.
    await waitFor(() => b.attempts >= 4, { description: 'b tried four times' });
    expect(b.leading).toBe(false);
    const held = await holder('handover');
    expect(held?.holderIdentity).toBe('a');
    await a.stop();
    await waitFor(() => b.leading, { description: 'b leads on the released lease', timeoutMs: 60_000 });
    const taken = await holder('handover');
    expect(taken).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    // As the Lease records it: b acquired it long before a's lease would have run out.
    const runsOutMs = new Date(held?.renewTime ?? 0).getTime() + (held?.leaseDurationSeconds ?? 0) * 1000;
    expect(new Date(taken?.acquireTime ?? Number.NaN).getTime()).toBeLessThan(runsOutMs);
  });

  it('takes over a lease whose holder stopped renewing, once it has run out', async () => {
    await leases.createNamespacedLease({
      namespace: ns,
      body: {
        metadata: { name: 'crashed' },
        spec: { holderIdentity: 'ghost', leaseDurationSeconds: 3, renewTime: new V1MicroTime(Date.now()) },
      },
    });
    const c = elector('crashed', 'c');
    // Its first look: the lease is held, and c has not seen it unchanged for leaseDuration yet.
    await waitFor(() => c.attempts >= 1, { description: 'c looked at the lease' });
    expect(c.leading).toBe(false);
    await waitFor(() => c.leading, { description: 'c leads after the lease ran out', timeoutMs: 20_000 });
    expect((await holder('crashed'))?.holderIdentity).toBe('c');
  });

  it('clock skew does not make two leaders: a holder an hour behind keeps the lease', async () => {
    // The holder writes renewTime from its own clock, an hour behind; the standby's clock is right.
    // Judged by the holder's renewTime, the lease looks an hour expired to the standby.
    const behind: Clock = {
      ...systemClock,
      now: () => new Date(Date.now() - HOUR),
      nowMs: () => Date.now() - HOUR,
    };
    let lost = false;
    const slow = elector(
      'skewed',
      'slow',
      () => {
        lost = true;
      },
      TIMING,
      behind,
    );
    await waitFor(() => slow.leading, { description: 'slow leads' });
    const right = elector('skewed', 'right');
    // The standby has looked for longer than leaseDuration (3 s) while the holder renews.
    await waitFor(() => right.attempts >= 2 * (TIMING.leaseDurationMs / TIMING.retryPeriodMs), {
      description: 'the standby tried for two lease durations',
      timeoutMs: 60_000,
    });
    expect(right.leading).toBe(false);
    expect(slow.leading).toBe(true);
    expect(lost).toBe(false);
    expect((await holder('skewed'))?.holderIdentity).toBe('slow');
  });

  it('a crashed holder whose clock was ahead is taken over after leaseDuration, not after the skew', async () => {
    await leases.createNamespacedLease({
      namespace: ns,
      body: {
        metadata: { name: 'ahead' },
        spec: {
          holderIdentity: 'ghost',
          leaseDurationSeconds: 3,
          renewTime: new V1MicroTime(Date.now() + HOUR),
        },
      },
    });
    const e = elector('ahead', 'e');
    await waitFor(() => e.leading, {
      description: 'e leads once the lease stayed unchanged',
      timeoutMs: 30_000,
    });
  });

  it('a leader that cannot renew gives up after renewDeadline', async () => {
    let lost = false;
    const d = elector('stolen', 'd', () => {
      lost = true;
    });
    await waitFor(() => d.leading, { description: 'd leads' });
    // Someone else writes the lease as theirs, freshly renewed, again and again.
    const steal = setInterval(() => {
      void leases.readNamespacedLease({ namespace: ns, name: 'stolen' }).then((l) =>
        leases
          .replaceNamespacedLease({
            namespace: ns,
            name: 'stolen',
            body: {
              ...l,
              spec: { ...l.spec, holderIdentity: 'thief', renewTime: new V1MicroTime(Date.now()) },
            },
          })
          .catch(() => {}),
      );
    }, 100);
    try {
      await waitFor(() => lost, { description: 'd gave up', timeoutMs: 20_000 });
      expect(d.leading).toBe(false);
    } finally {
      clearInterval(steal);
    }
  });
});

describe('two operators over one Lease', () => {
  const operators: RunningOperator[] = [];
  afterAll(async () => {
    await Promise.all(operators.map((o) => o.stop()));
  });

  it('only the leader reconciles; when it stops, the other takes over', async () => {
    const watched = ns;
    const lease = operatorLease('operator');
    for (const identity of ['op-1', 'op-2']) {
      operators.push(
        startOperator(kc, {
          namespaces: [watched],
          leaderElection: { ...lease, identity, timing: TIMING, onLost: () => {} },
        }),
      );
    }
    await waitFor(() => operators.some((o) => o.operator.leading), { description: 'a leader' });
    const [leader, standby] = operators[0]?.operator.leading ? operators : [...operators].reverse();
    if (leader === undefined || standby === undefined) throw new Error('two operators expected');
    expect(standby.operator.leading).toBe(false);
    // A standby is ready (for rolling updates) without running the controllers.
    expect(standby.operator.ready()).toBe(true);

    const certs = new Certificates(kc, watched, { token: { check: false } });
    const source = async (name: string) =>
      core.createNamespacedSecret({
        namespace: watched,
        body: { metadata: { name }, stringData: bindingCredentials().fields },
      });
    await source('src-1');
    await certs.create('one', { secretName: 'one-tls', source: { secret: { name: 'src-1' } } });
    await certs.waitForCondition('one', 'Ready', { status: 'True' });
    const runs = (o: RunningOperator) => Object.values(o.controller.queue.counts).reduce((a, b) => a + b, 0);
    expect(runs(leader)).toBeGreaterThan(0);
    expect(runs(standby)).toBe(0);

    await leader.stop();
    await waitFor(() => standby.operator.leading, { description: 'the standby leads' });
    await source('src-2');
    await certs.create('two', { secretName: 'two-tls', source: { secret: { name: 'src-2' } } });
    await certs.waitForCondition('two', 'Ready', { status: 'True' });
    expect(runs(standby)).toBeGreaterThan(0);
  });
});
