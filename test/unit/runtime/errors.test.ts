import { describe, expect, it } from 'vitest';
import { errorCode, isCatalogued, isRetryable, OperatorError } from '../../../src/runtime/errors.ts';

describe('errors', () => {
  it('OperatorError carries a stable code, retryability and a cause', () => {
    const cause = new Error('socket hang up');
    const e = new OperatorError('BTPUnavailable', 'token endpoint unreachable', { retryable: true, cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('BTPUnavailable');
    expect(e.retryable).toBe(true);
    expect(e.cause).toBe(cause);
    expect(e.message).toBe('token endpoint unreachable');
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
