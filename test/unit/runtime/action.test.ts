import { describe, expect, it } from 'vitest';
import { type Action, awaitChange, earliest, isRequeue, requeue } from '../../../src/runtime/action.ts';

describe('Action', () => {
  it('requeue and awaitChange build the two shapes', () => {
    expect(requeue(5_000)).toEqual({ requeueAfterMs: 5_000 });
    expect(awaitChange()).toEqual({ awaitChange: true });
    expect(isRequeue(requeue(0))).toBe(true);
    expect(isRequeue(awaitChange())).toBe(false);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('requeue(%s) is rejected', (ms) => {
    expect(() => requeue(ms)).toThrow(RangeError);
  });

  const cases: { a: Action; b: Action; want: Action }[] = [
    { a: requeue(10), b: requeue(20), want: requeue(10) },
    { a: requeue(20), b: requeue(10), want: requeue(10) },
    { a: requeue(20), b: awaitChange(), want: requeue(20) },
    { a: awaitChange(), b: requeue(20), want: requeue(20) },
    { a: awaitChange(), b: awaitChange(), want: awaitChange() },
  ];
  it.each(cases)('earliest($a, $b) = $want', ({ a, b, want }) => {
    expect(earliest(a, b)).toEqual(want);
  });
});
