import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { parseFailpoint } from '../../src/runtime/failpoints.ts';

const FAILPOINTS_MODULE = fileURLToPath(new URL('../../src/runtime/failpoints.ts', import.meta.url));

describe('failpoints', () => {
  it('parse name and count', () => {
    expect(parseFailpoint('after-secret-written')).toEqual({ point: 'after-secret-written', nth: 1 });
    expect(parseFailpoint('before-retired-deleted:3')).toEqual({ point: 'before-retired-deleted', nth: 3 });
    expect(parseFailpoint('nowhere')).toBeUndefined();
    expect(parseFailpoint('after-secret-written:0')).toBeUndefined();
  });

  it('are off unless BTPCERTS_FAILPOINT names one', () => {
    expect(loadConfig([], {}).failpoint).toBeUndefined();
    expect(loadConfig([], { BTPCERTS_FAILPOINT: 'after-secret-written:2' }).failpoint).toEqual({
      point: 'after-secret-written',
      nth: 2,
    });
    expect(() => loadConfig([], { BTPCERTS_FAILPOINT: 'nowhere' })).toThrow(ConfigError);
  });

  it('a killing failpoint kills the process with SIGKILL on the n-th hit of its own point, not before', () => {
    // In a child process: the failpoint kills whatever process it runs in.
    const script = `
      import { killingFailpoints } from ${JSON.stringify(FAILPOINTS_MODULE)};
      const failpoints = killingFailpoints({ point: 'after-secret-written', nth: 2 }, () => console.log('onHit'));
      failpoints.hit('after-binding-created'); console.log('other point');
      failpoints.hit('after-secret-written'); console.log('first hit');
      failpoints.hit('before-retired-deleted'); console.log('other point');
      failpoints.hit('after-secret-written'); console.log('second hit');
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '--eval', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.error).toBeUndefined();
    expect(child.stdout.trim().split('\n'), child.stderr).toEqual([
      'other point',
      'first hit',
      'other point',
      'onHit',
    ]);
    expect(child.signal).toBe('SIGKILL');
  });
});
