import { describe, expect, it } from 'vitest';
import { statusPatch } from '../../../src/certificate/status-patch.ts';

describe('statusPatch', () => {
  it('nothing for equal statuses, whatever the key order', () => {
    expect(statusPatch({ a: 1, b: { c: [1, 2], d: 'x' } }, { b: { d: 'x', c: [1, 2] }, a: 1 })).toEqual({});
  });

  it('null for what the decision dropped, at any depth; undefined counts as absent', () => {
    const stored = {
      failedAttempts: 3,
      nextRetryTime: 't',
      token: { lastSuccessTime: 's', failedChecks: 1 },
    };
    const decided = { failedAttempts: undefined, token: { failedChecks: 2 } };
    expect(statusPatch(stored, decided)).toEqual({
      failedAttempts: null,
      nextRetryTime: null,
      token: { lastSuccessTime: null, failedChecks: 2 },
    });
  });

  it('new and changed fields; arrays replaced whole', () => {
    const conditions = [{ type: 'Ready', status: 'True' }];
    expect(
      statusPatch({ conditions: [{ type: 'Ready', status: 'False' }] }, { conditions, notAfter: 'n' }),
    ).toEqual({
      conditions,
      notAfter: 'n',
    });
  });
});
