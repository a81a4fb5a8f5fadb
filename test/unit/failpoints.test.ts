import { describe, expect, it } from 'vitest';
import { noFailpoints, parseFailpoint } from '../../src/runtime/failpoints.ts';

describe('failpoints', () => {
  it('parse name and count', () => {
    expect(parseFailpoint('after-secret-written')).toEqual({ point: 'after-secret-written', nth: 1 });
    expect(parseFailpoint('before-retired-deleted:3')).toEqual({ point: 'before-retired-deleted', nth: 3 });
    expect(parseFailpoint('nowhere')).toBeUndefined();
    expect(parseFailpoint('after-secret-written:0')).toBeUndefined();
  });
  it('are inert by default', () => {
    expect(() => noFailpoints.hit('after-binding-created')).not.toThrow();
  });
});
