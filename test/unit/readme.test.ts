// The README documents what the code does: every reason of the catalogue is in its tables, and
// the two commands a newcomer runs are the ones CI runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Reasons } from '../../src/api/conditions.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it.each(Object.keys(Reasons))('documents the reason %s', (reason) => {
    expect(readme).toContain(`\`${reason}\``);
  });

  it('names the test command CI runs', () => {
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toContain('make test');
    expect(readme).toMatch(/^make test\b/m);
    expect(readme).toMatch(/^make demo\b/m);
  });
});
