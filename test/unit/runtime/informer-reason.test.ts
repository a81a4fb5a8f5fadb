// The log-safe error reason of informers and watches, and how a watch's end is read
// (src/kube/watch.ts). Kept with the runtime tests: both are pure; the first guards the rule that
// response bodies (which can echo objects) are never logged.
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WATCH_TIMEOUTS,
  describeError,
  describeWatchEnd,
  type WatchEnd,
  watchEnd,
} from '../../../src/kube/watch.ts';

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
    {
      // client-node's inactivity timeout: a DOMException whose numeric code (23) is no HTTP status.
      name: 'watch inactivity timeout',
      error: new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      want: 'TimeoutError: The operation was aborted due to timeout',
    },
    {
      name: 'ERROR event of a watch (a Status)',
      error: { kind: 'Status', code: 500, reason: 'InternalError', message: 'tls.key=SECRET' },
      want: 'HTTP 500 InternalError',
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

describe('watchEnd', () => {
  const expired = { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' };
  const cases: { name: string; error: unknown; event?: unknown; want: WatchEnd }[] = [
    { name: 'the stream ended (server timeout or shutdown)', error: null, want: { kind: 'closed' } },
    {
      name: "client-node's inactivity timeout",
      error: new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      want: { kind: 'silent' },
    },
    { name: 'ERROR event 410, then the end', error: null, event: expired, want: { kind: 'expired' } },
    {
      name: 'ERROR event 410, then our abort',
      error: new DOMException('aborted', 'AbortError'),
      event: expired,
      want: { kind: 'expired' },
    },
    {
      name: 'watch request answered 410',
      error: Object.assign(new Error('Gone'), { statusCode: 410 }),
      want: { kind: 'expired' },
    },
    {
      name: 'another ERROR event',
      error: null,
      event: { kind: 'Status', code: 500, reason: 'InternalError' },
      want: { kind: 'failed', reason: 'HTTP 500 InternalError' },
    },
    {
      name: 'watch request refused',
      error: Object.assign(new Error('Forbidden'), { statusCode: 403 }),
      want: { kind: 'failed', reason: 'HTTP 403' },
    },
    {
      name: 'connection reset',
      error: new TypeError('terminated', {
        cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
      }),
      want: { kind: 'failed', reason: 'TypeError: ECONNRESET: terminated' },
    },
  ];
  it.each(cases)('$name', ({ error, event, want }) => {
    expect(watchEnd(error, event)).toEqual(want);
  });

  it('says what happened, never an HTTP status for a routine end', () => {
    expect(describeWatchEnd({ kind: 'closed' }, DEFAULT_WATCH_TIMEOUTS)).toBe('closed by the server');
    expect(describeWatchEnd({ kind: 'silent' }, { inactivityMs: 1_500 })).toBe(
      'no data for 1.5 s; the client gave up',
    );
    expect(describeWatchEnd({ kind: 'expired' }, DEFAULT_WATCH_TIMEOUTS)).toBe(
      'resourceVersion expired (410 Gone)',
    );
  });
});
