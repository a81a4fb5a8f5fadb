import { describe, expect, it } from 'vitest';
import {
  combinedHash,
  OBSERVED_HASH_ANNOTATION,
  RESTARTED_AT_ANNOTATION,
  secretNames,
  workloadPatch,
} from '../../src/workloads/restart.ts';

const NOW = new Date('2026-01-01T00:00:00Z');

describe('restart-on-rotation decisions', () => {
  it('reads the annotation as a set of names', () => {
    expect(secretNames(' b, a,,b ')).toEqual(['a', 'b']);
    expect(secretNames(undefined)).toEqual([]);
  });

  it("names Secrets of the workload's own namespace only: other namespaces and non-names are dropped", () => {
    expect(secretNames('b/app-tls, app-tls, ../x, A, a.b-c, -a, x'.concat('y'.repeat(253)))).toEqual([
      'a.b-c',
      'app-tls',
    ]);
  });

  it('hashes the data hashes of the named Secrets; a missing one counts as empty', () => {
    const hashes: Record<string, string> = { a: 'h1', b: 'h2' };
    const h = combinedHash(['a', 'b'], (n) => hashes[n]);
    expect(combinedHash(['a', 'b'], (n) => hashes[n])).toBe(h);
    expect(combinedHash(['a', 'b'], (n) => ({ ...hashes, b: 'h3' })[n])).not.toBe(h);
    expect(combinedHash(['a'], (n) => hashes[n])).not.toBe(h);
  });

  it('records the first hash without restarting, restarts once per change, then does nothing', () => {
    const first = workloadPatch({}, 'h1', NOW);
    expect(first).toEqual({ metadata: { annotations: { [OBSERVED_HASH_ANNOTATION]: 'h1' } } });
    expect(workloadPatch({ [OBSERVED_HASH_ANNOTATION]: 'h1' }, 'h1', NOW)).toBeUndefined();
    expect(workloadPatch({ [OBSERVED_HASH_ANNOTATION]: 'h1' }, 'h2', NOW)).toEqual({
      metadata: { annotations: { [OBSERVED_HASH_ANNOTATION]: 'h2' } },
      spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: NOW.toISOString() } } } },
    });
  });
});
