import { describe, expect, it } from 'vitest';
import type { Condition } from '../../../src/api/types.ts';
import { keepTransitionTimes, setCondition } from '../../../src/certificate/conditions.ts';

const T0 = new Date('2026-06-01T12:00:00Z');
const T1 = new Date('2026-06-01T12:10:00Z');
const stored: Condition[] = [
  {
    type: 'Ready',
    status: 'False',
    reason: 'NoTokenEndpoint',
    message: 'no token endpoint',
    lastTransitionTime: '2026-06-01T12:00:00Z',
    observedGeneration: 1,
  },
];

describe('keepTransitionTimes', () => {
  it('a condition that passed through another status within one decision keeps its stored transition time', () => {
    // Ready True from the credentials, then False again from the token check, ten minutes later.
    const viaTrue = setCondition(
      stored,
      { type: 'Ready', status: 'True', reason: 'Issued', message: 'ok' },
      T1,
      1,
    );
    const back = setCondition(
      viaTrue,
      { type: 'Ready', status: 'False', reason: 'NoTokenEndpoint', message: 'no token endpoint' },
      T1,
      1,
    );
    expect(back[0]?.lastTransitionTime).toBe('2026-06-01T12:10:00Z');
    expect(keepTransitionTimes(stored, back)).toEqual(stored);
  });

  it('a real transition gets the new time; a condition new to the status keeps its own', () => {
    const flipped = setCondition(
      stored,
      { type: 'Ready', status: 'True', reason: 'Issued', message: 'ok' },
      T1,
      1,
    );
    const added = setCondition(
      flipped,
      { type: 'Renewal', status: 'False', reason: 'NotDue', message: 'later' },
      T0,
      1,
    );
    const kept = keepTransitionTimes(stored, added);
    expect(kept.map((c) => [c.type, c.lastTransitionTime])).toEqual([
      ['Ready', '2026-06-01T12:10:00Z'],
      ['Renewal', '2026-06-01T12:00:00Z'],
    ]);
    expect(keepTransitionTimes(undefined, added)).toEqual(added);
  });
});
