// The informer's log-safe error reason (src/kube/informer.ts). Kept with the runtime tests: it
// is pure, and it guards the rule that response bodies (which can echo objects) are never logged.
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../../src/kube/informer.ts';

const statusBody = JSON.stringify({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  reason: 'NotFound',
  message: 'the server could not find the requested resource (data: tls.key=SECRET)',
  code: 404,
});

describe('describeError', () => {
  const cases: { name: string; error: unknown; want: string }[] = [
    {
      name: 'ApiException from a list: status and Status reason only',
      error: new ApiException(
        404,
        `HTTP-Code: 404 Message: Unknown API Status Code! Body: ${statusBody}`,
        statusBody,
        {},
      ),
      want: 'HTTP 404 NotFound',
    },
    {
      name: 'ApiException with a parsed Status body',
      error: new ApiException(403, 'forbidden', JSON.parse(statusBody.replace('NotFound', 'Forbidden')), {}),
      want: 'HTTP 403 Forbidden',
    },
    {
      name: 'ApiException whose body is not a Status',
      error: new ApiException(500, 'boom', '{"data":{"tls.key":"SECRET"}}', {}),
      want: 'HTTP 500',
    },
    {
      name: 'watch error (statusCode)',
      error: Object.assign(new Error('Forbidden'), { statusCode: 403 }),
      want: 'HTTP 403',
    },
    {
      name: 'undici fetch failure carries the socket error code',
      error: new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
      }),
      want: 'TypeError: ECONNREFUSED: fetch failed',
    },
    { name: 'plain error', error: new Error('exec plugin failed'), want: 'Error: exec plugin failed' },
    { name: 'a string', error: 'weird', want: 'weird' },
    { name: 'undefined', error: undefined, want: 'undefined' },
  ];
  it.each(cases)('$name', ({ error, want }) => {
    const reason = describeError(error);
    expect(reason).toBe(want);
    expect(reason).not.toContain('SECRET');
  });

  it('truncates long messages', () => {
    expect(describeError(new Error('x'.repeat(1_000))).length).toBeLessThanOrEqual(200);
  });
});
