// leaseDecision: client-go's rules for a Lease, as a pure function. Expiry is judged by when this
// candidate first saw the lease's current record, by its own clock (client-go's observedTime),
// never by the holder's renewTime, which comes from another machine's clock.
import { describe, expect, it } from 'vitest';
import { type LeaseView, leaseDecision, observe } from '../../../src/kube/leader-election.ts';

const NOW = 1_000_000;
const lease = (holder: string, record = `${holder}@1`, transitions = 2): LeaseView => ({
  holder,
  durationMs: 15_000,
  transitions,
  record,
});
const seen = (l: LeaseView, atMs: number) => ({ record: l.record, atMs });

describe('leaseDecision', () => {
  const other = lease('other');
  it.each([
    ['no lease', undefined, undefined, { action: 'create' }],
    ['ours', lease('me'), seen(lease('me'), NOW - 60_000), { action: 'renew' }],
    [
      'held, unchanged for less than leaseDuration',
      other,
      seen(other, NOW - 14_999),
      { action: 'wait', holder: 'other' },
    ],
    [
      'held, unchanged for leaseDuration',
      other,
      seen(other, NOW - 15_000),
      { action: 'take', transitions: 3 },
    ],
    ['held, first seen now', other, undefined, { action: 'wait', holder: 'other' }],
    [
      'held, changed since it was seen',
      other,
      { record: 'other@0', atMs: NOW - 60_000 },
      { action: 'wait', holder: 'other' },
    ],
    ['released (no holder)', lease(''), undefined, { action: 'take', transitions: 3 }],
  ] as const)('%s', (_name, view, observed, want) => {
    expect(leaseDecision(view, 'me', observed, NOW)).toEqual(want);
  });
});

describe('observe', () => {
  it('keeps the time it first saw a record, and moves it when the record changes', () => {
    const first = observe(undefined, lease('other', 'r1'), 10);
    expect(first).toEqual({ record: 'r1', atMs: 10 });
    expect(observe(first, lease('other', 'r1'), 99)).toBe(first);
    expect(observe(first, lease('other', 'r2'), 99)).toEqual({ record: 'r2', atMs: 99 });
    expect(observe(first, undefined, 99)).toBeUndefined();
  });

  it('a holder renewing with a clock an hour behind is never expired to a standby that sees it renew', () => {
    // The holder's renewTime is not an input at all: only whether the record changed.
    let observed: ReturnType<typeof observe>;
    for (let t = 0; t < 120_000; t += 2_000) {
      const current = lease('holder', `renewed-at-${t - 3_600_000}`);
      observed = observe(observed, current, NOW + t);
      expect(leaseDecision(current, 'standby', observed, NOW + t)).toEqual({
        action: 'wait',
        holder: 'holder',
      });
    }
  });
});
