import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../../src/btp/transport-errors.ts';
import { errorCode, isCatalogued, isRetryable, OperatorError } from '../../../src/runtime/errors.ts';

describe('errors', () => {
  it("an OperatorError is judged by its own code and flag, not its cause's; the cause stays on the chain", () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const inner = new OperatorError('InvalidSpec', 'bad spec', { retryable: false, cause: socket });
    const outer = new OperatorError('BTPUnavailable', 'token endpoint unreachable', {
      retryable: true,
      cause: inner,
    });
    expect(outer).toBeInstanceOf(Error);
    expect(String(outer)).toBe('OperatorError: token endpoint unreachable');
    expect([errorCode(outer), isRetryable(outer)]).toEqual(['BTPUnavailable', true]);
    expect([errorCode(inner), isRetryable(inner)]).toEqual(['InvalidSpec', false]);
    // What the BTP clients read when they classify a failure: every code along the cause chain.
    expect(errorCodes(outer)).toEqual(['BTPUnavailable', 'InvalidSpec', 'ECONNREFUSED']);
    // No cause given: no `cause` property at all (not `cause: undefined` in a logged error).
    expect(Object.hasOwn(new OperatorError('Conflict', 'stale', { retryable: true }), 'cause')).toBe(false);
  });

  const cases: { name: string; error: unknown; retryable: boolean; code: string }[] = [
    {
      name: 'terminal OperatorError',
      error: new OperatorError('InvalidSpec', 'bad', { retryable: false }),
      retryable: false,
      code: 'InvalidSpec',
    },
    {
      name: 'retryable OperatorError',
      error: new OperatorError('Conflict', 'stale', { retryable: true }),
      retryable: true,
      code: 'Conflict',
    },
    {
      name: 'structurally catalogued error from elsewhere',
      error: Object.assign(new Error('x'), { code: 'ChainInvalid', retryable: false }),
      retryable: false,
      code: 'ChainInvalid',
    },
    { name: 'plain Error', error: new Error('boom'), retryable: true, code: 'Unknown' },
    {
      name: 'Node system error (string code, no retryable flag)',
      error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      retryable: true,
      code: 'Unknown',
    },
    { name: 'thrown string', error: 'oops', retryable: true, code: 'Unknown' },
    { name: 'undefined', error: undefined, retryable: true, code: 'Unknown' },
  ];
  it.each(cases)('$name: retryable=$retryable code=$code', ({ error, retryable, code }) => {
    expect(isRetryable(error)).toBe(retryable);
    expect(errorCode(error)).toBe(code);
    expect(isCatalogued(error)).toBe(code !== 'Unknown');
  });
});
