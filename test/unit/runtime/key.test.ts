import { describe, expect, it } from 'vitest';
import { objectKey, splitKey } from '../../../src/runtime/key.ts';

describe('keys', () => {
  const cases = [
    { ref: { namespace: 'team-a', name: 'web' }, key: 'team-a/web' },
    { ref: { name: 'cluster-wide' }, key: 'cluster-wide' },
    { ref: { namespace: '', name: 'cluster-wide' }, key: 'cluster-wide' },
  ];
  it.each(cases)('$key round-trips', ({ ref, key }) => {
    expect(objectKey(ref)).toBe(key);
    expect(splitKey(key)).toEqual({ namespace: ref.namespace ?? '', name: ref.name });
  });
});
