// Small pure pieces of the simulator: Retry-After forms, the sliding window, operation
// progress, parameter placement and fault parsing.
import { describe, expect, it } from 'vitest';
import { credentialRequest } from '../support/btp-simulator/binding-parameters.ts';
import { parseFault } from '../support/btp-simulator/faults.ts';
import { InputError } from '../support/btp-simulator/input.ts';
import { type Operation, progress, startOperation } from '../support/btp-simulator/operations.ts';
import { SlidingWindowLimiter } from '../support/btp-simulator/rate-limit.ts';
import { formatRetryAfter } from '../support/btp-simulator/retry-after.ts';

describe('formatRetryAfter', () => {
  const now = Date.UTC(2024, 10, 11, 14, 59, 30, 500);
  it.each([
    ['seconds', '3'],
    ['http-date', 'Mon, 11 Nov 2024 14:59:34 GMT'],
    ['go-time', '2024-11-11 14:59:34 +0000 UTC'],
  ] as const)('writes the %s form, dates rounded up to a whole second', (form, expected) => {
    expect(formatRetryAfter({ form, seconds: 3 }, now)).toBe(expected);
  });
});

describe('SlidingWindowLimiter', () => {
  it('admits `limit` requests per window and names the wait for the next one', () => {
    const limiter = new SlidingWindowLimiter(2, 1000);
    expect(limiter.tryAcquire(0)).toEqual({ ok: true });
    expect(limiter.tryAcquire(400)).toEqual({ ok: true });
    expect(limiter.tryAcquire(900)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(limiter.tryAcquire(1000)).toEqual({ ok: true });
    expect(limiter.tryAcquire(1100)).toEqual({ ok: false, retryAfterMs: 300 });
  });
});

describe('operation progress', () => {
  const polled = (operation: Operation, polls: number): Operation => ({ ...operation, polls });

  it('walks pending -> in progress -> succeeded over the configured polls', () => {
    const operation = startOperation('create', 'b', 0, { polls: 3, durationMs: 0 }, 'succeed');
    expect([0, 1, 2, 3].map((polls) => progress(polled(operation, polls), 0))).toEqual([
      'pending',
      'pending',
      'in progress',
      'succeeded',
    ]);
  });

  it('waits for the duration as well as the polls, and ends failed or never', () => {
    const timed = startOperation('delete', 'b', 0, { polls: 1, durationMs: 1000 }, 'fail');
    expect(progress(polled(timed, 5), 999)).toBe('in progress');
    expect(progress(polled(timed, 5), 1000)).toBe('failed');
    const stuck = startOperation('create', 'b', 0, { polls: 1, durationMs: 0 }, 'stuck');
    expect(progress(polled(stuck, 100), 1e12)).toBe('in progress');
  });
});

describe('credentialRequest', () => {
  const x509 = {
    'credential-type': 'x509',
    x509: { 'key-length': 4096, validity: 2, 'validity-type': 'DAYS' },
  };
  it.each([
    ['xsuaa', x509, 'x509'],
    ['xsuaa', { xsuaa: x509 }, 'secret'],
    ['reusesXsuaa', { xsuaa: x509 }, 'x509'],
    ['reusesXsuaa', x509, 'secret'],
    ['other', x509, 'secret'],
    ['xsuaa', { 'credential-type': 'binding-secret' }, 'secret'],
    ['xsuaa', { 'Credential-Type': 'x509' }, 'secret'],
    ['xsuaa', undefined, 'secret'],
  ] as const)('%s with %j gives a %s binding', (kind, parameters, expected) => {
    expect(credentialRequest(kind, parameters).kind).toBe(expected);
  });

  it('fills the documented defaults', () => {
    expect(credentialRequest('xsuaa', { 'credential-type': 'x509' })).toEqual({
      kind: 'x509',
      keyLength: 2048,
      validity: { value: 7, type: 'DAYS' },
    });
  });

  it.each([
    [{ 'credential-type': 'x509', x509: { 'key-length': 1234 } }],
    [{ 'credential-type': 'x509', x509: { validity: 31, 'validity-type': 'DAYS' } }],
    [{ 'credential-type': 'x509', x509: { validity: 13, 'validity-type': 'MONTHS' } }],
    [{ 'credential-type': 'x509', x509: { validity: 1.5 } }],
    [{ 'credential-type': 'x509', x509: 'yes' }],
    [{ 'credential-type': 'X509' }],
    ['not an object'],
  ])('rejects %j', (parameters) => {
    expect(() => credentialRequest('xsuaa', parameters)).toThrow(InputError);
  });
});

describe('parseFault', () => {
  it('accepts every documented fault kind', () => {
    const faults = [
      { kind: 'status', route: 'sm.createBinding', status: 503, times: 2 },
      {
        kind: 'status',
        route: 'xsuaa.token',
        status: 429,
        times: 1,
        retryAfter: { form: 'go-time', seconds: 2 },
      },
      { kind: 'errorRate', route: 'sm.listBindings', status: 500, rate: 0.25, seed: 7 },
      { kind: 'latency', route: 'xsuaa.certToken', ms: 100 },
      { kind: 'reset', route: 'sm.getOperation', times: 1 },
      { kind: 'async', route: 'sm.deleteBinding', times: 1 },
      { kind: 'stuckOperation', route: 'sm.createBinding', times: 1 },
      { kind: 'failOperation', route: 'sm.createBinding', times: 1 },
      { kind: 'credential', defect: 'chainWrongOrder', times: 3 },
    ];
    for (const fault of faults) expect(parseFault(fault)).toEqual(fault);
  });

  it.each([
    [{ kind: 'explode' }],
    [{ kind: 'status', route: 'sm.nope', status: 500, times: 1 }],
    [{ kind: 'status', route: 'sm.createBinding', status: 200, times: 1 }],
    [{ kind: 'status', route: 'sm.createBinding', status: 500, times: 0 }],
    [{ kind: 'status', route: 'sm.createBinding', status: 500, times: 1, extra: true }],
    [{ kind: 'async', route: 'sm.listBindings', times: 1 }],
    [{ kind: 'errorRate', route: 'sm.listBindings', status: 500, rate: 2, seed: 1 }],
    [{ kind: 'credential', defect: 'sloppy', times: 1 }],
  ])('rejects %j', (fault) => {
    expect(() => parseFault(fault)).toThrow(InputError);
  });
});
