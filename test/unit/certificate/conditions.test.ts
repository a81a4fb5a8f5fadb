// setCondition, the one helper decide() writes conditions with. (keepTransitionTimes, which
// repaired transition times after a plan was rewritten, is gone: decide writes each condition once,
// against the stored one; the Ready chain's test shows the pass-through case.)
import { describe, expect, it } from 'vitest';
import type { Condition } from '../../../src/api/types.ts';
import { setCondition } from '../../../src/certificate/conditions.ts';

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

describe('setCondition', () => {
  it('keeps lastTransitionTime while the status stays, stamps the generation, takes reason and message', () => {
    const next = setCondition(
      stored,
      { type: 'Ready', status: 'False', reason: 'InvalidClient', message: 'refused' },
      T1,
      2,
    );
    expect(next).toEqual([
      { ...stored[0], reason: 'InvalidClient', message: 'refused', observedGeneration: 2 },
    ]);
  });

  it('a flip gets the new time; a condition new to the status gets it too; Ready is listed first', () => {
    const flipped = setCondition(
      stored,
      { type: 'Ready', status: 'True', reason: 'Issued', message: 'ok' },
      T1,
      1,
    );
    const added = setCondition(
      flipped,
      { type: 'Renewal', status: 'False', reason: 'NotDue', message: 'later' },
      T1,
      1,
    );
    expect(added.map((c) => [c.type, c.lastTransitionTime])).toEqual([
      ['Ready', '2026-06-01T12:10:00Z'],
      ['Renewal', '2026-06-01T12:10:00Z'],
    ]);
    const first = setCondition(
      [],
      { type: 'Stalled', status: 'False', reason: 'Progressing', message: '' },
      T1,
      1,
    );
    const both = setCondition(first, { type: 'Ready', status: 'True', reason: 'Issued', message: '' }, T1, 1);
    expect(both.map((c) => c.type)).toEqual(['Ready', 'Stalled']);
  });
});
