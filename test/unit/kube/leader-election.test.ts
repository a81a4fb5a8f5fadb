// leaseDecision: client-go's rules for a Lease, as a pure function.
import { describe, expect, it } from 'vitest';
import { leaseDecision } from '../../../src/kube/leader-election.ts';

const NOW = 1_000_000;
const lease = (holder: string, renewedAtMs: number | undefined, transitions = 2) => ({
  holder,
  renewedAtMs,
  durationMs: 15_000,
  transitions,
});

describe('leaseDecision', () => {
  it.each([
    ['no lease', undefined, { action: 'create' }],
    ['ours', lease('me', NOW - 60_000), { action: 'renew' }],
    ['held and fresh', lease('other', NOW - 14_999), { action: 'wait', holder: 'other' }],
    ['held and expired', lease('other', NOW - 15_000), { action: 'take', transitions: 3 }],
    ['released (no holder)', lease('', NOW), { action: 'take', transitions: 3 }],
    ['never renewed', lease('other', undefined), { action: 'take', transitions: 3 }],
  ])('%s', (_name, view, want) => {
    expect(leaseDecision(view, 'me', NOW)).toEqual(want);
  });
});
