// Pure pieces: query building and escaping, the checks on API error text, status mapping, the
// opaque Secret, and the test's own secret detector (it must catch a leak to be worth anything).
import { describe, expect, it } from 'vitest';
import { apiErrorFields, errorForStatus, safeApiText } from '../../src/btp/api-error.ts';
import type { BtpResponse } from '../../src/btp/http.ts';
import { buildQuery, equalsQuery, quoteQueryValue } from '../../src/btp/query.ts';
import { Secret } from '../../src/btp/secret.ts';
import { classifyTransportFailure } from '../../src/btp/transport-errors.ts';
import { expectNoSecrets } from './helpers.ts';

describe('queries', () => {
  it('quotes every value and doubles quotes inside it', () => {
    expect(quoteQueryValue("it's")).toBe("'it''s'");
    expect(equalsQuery({ name: "o'brien", service_instance_id: 'abc' })).toBe(
      "name eq 'o''brien' and service_instance_id eq 'abc'",
    );
    expect(
      buildQuery([
        { key: 'btpcerts.io/owner', op: 'in', values: ['a', "b'c"] },
        { key: 'ready', op: 'ne', value: 'false' },
      ]),
    ).toBe("btpcerts.io/owner in ('a', 'b''c') and ready ne 'false'");
  });

  it('keeps an attempted injection inside one quoted value', () => {
    expect(equalsQuery({ name: "x' or name eq 'y" })).toBe("name eq 'x'' or name eq ''y'");
  });

  it.each([
    ['an empty query', () => buildQuery([])],
    ['a key with a space', () => equalsQuery({ 'a b': 'x' })],
    ['a key with a quote', () => equalsQuery({ "a'": 'x' })],
    ['a reserved word as key', () => equalsQuery({ and: 'x' })],
    ['an empty in list', () => buildQuery([{ key: 'name', op: 'in', values: [] }])],
    ['a value with a newline', () => equalsQuery({ name: 'a\nb' })],
  ])('refuses %s with BtpBadRequest', (_name, build) => {
    expect(build).toThrow(expect.objectContaining({ code: 'BtpBadRequest' }));
  });
});

describe('API error text', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

  it('keeps the short error strings of both dialects', () => {
    expect(apiErrorFields({ error: 'invalid_client', error_description: 'Bad credentials' }, [])).toEqual({
      error: 'invalid_client',
      description: 'Bad credentials',
    });
    expect(apiErrorFields({ error: 'Conflict', description: 'name taken' }, [])).toEqual({
      error: 'Conflict',
      description: 'name taken',
    });
    expect(apiErrorFields('not json', [])).toEqual({ error: undefined, description: undefined });
  });

  it('removes known secrets, tokens, PEM blocks and long base64 runs, and caps the length', () => {
    expect(safeApiText('secret s3cr3t-value echoed', ['s3cr3t-value'])).toBe('secret [redacted] echoed');
    expect(safeApiText(`token ${jwt} rejected`, [])).toBe('token [redacted] rejected');
    expect(
      safeApiText('key -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- bad', []),
    ).toBe('key [redacted] bad');
    expect(safeApiText(`blob ${'A'.repeat(64)}`, [])).toBe('blob [redacted]');
    expect(safeApiText('line\nbreak\u0000', [])).toBe('line break');
    expect(safeApiText('x'.repeat(500), [])?.length).toBeLessThanOrEqual(161);
    expect(safeApiText(42, [])).toBeUndefined();
  });

  it('maps statuses to codes and says method, host/path and status', () => {
    const url = new URL('https://sm.example:8443/v1/service_bindings?fieldQuery=secret');
    const response = (status: number, json: unknown, headers = {}): BtpResponse => ({
      status,
      json,
      headers,
      receivedAtMs: 0,
    });
    const cases: [number, string][] = [
      [400, 'BtpBadRequest'],
      [401, 'BtpUnauthorized'],
      [403, 'BtpForbidden'],
      [404, 'BtpNotFound'],
      [410, 'BtpNotFound'],
      [409, 'BtpConflict'],
      [422, 'BtpConcurrentOperation'],
      [429, 'BtpRateLimited'],
      [500, 'BtpServerError'],
      [503, 'BtpServerError'],
      [302, 'BtpUnexpectedResponse'],
      [418, 'BtpUnexpectedResponse'],
    ];
    for (const [status, code] of cases) {
      expect(errorForStatus('GET', url, response(status, undefined), []).code, String(status)).toBe(code);
    }
    const limited = errorForStatus(
      'GET',
      url,
      response(429, { error: 'TooManyRequests' }, { 'retry-after': '7' }),
      [],
    );
    expect(limited.message).toBe('GET sm.example:8443/v1/service_bindings: 429 TooManyRequests');
    expect(limited.retryAfterMs).toBe(7_000);
  });
});

describe('transport failures', () => {
  const base = {
    method: 'POST',
    url: new URL('https://xsuaa.example/oauth/token'),
    timedOut: false,
    timeoutMs: 1_000,
    duringConnect: false,
    alertCode: undefined,
    certificateRejectedSilently: false,
  };
  const coded = (code: string, cause?: unknown) => Object.assign(new Error(code), { code, cause });

  it.each([
    [
      'a TLS alert refusing the client certificate',
      { error: coded('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE') },
      'BtpTLSHandshakeFailed',
    ],
    [
      'an alert seen on the socket',
      { error: coded('UND_ERR_SOCKET'), alertCode: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' },
      'BtpTLSHandshakeFailed',
    ],
    [
      'a silent refusal confirmed by the probe',
      { error: coded('UND_ERR_SOCKET'), certificateRejectedSilently: true },
      'BtpTLSHandshakeFailed',
    ],
    [
      'an untrusted server certificate',
      { error: coded('SELF_SIGNED_CERT_IN_CHAIN'), duringConnect: true },
      'BtpServerCertificateUntrusted',
    ],
    [
      'a wrong host name',
      { error: coded('ERR_TLS_CERT_ALTNAME_INVALID'), duringConnect: true },
      'BtpServerCertificateUntrusted',
    ],
    ['our own timer', { error: coded('UND_ERR_ABORTED'), timedOut: true }, 'BtpTimeout'],
    ['a connect timeout', { error: coded('UND_ERR_CONNECT_TIMEOUT') }, 'BtpTimeout'],
    ['a refused connection', { error: coded('ECONNREFUSED') }, 'BtpUnreachable'],
    ['a DNS failure, nested', { error: coded('UND_ERR_CONNECT', coded('ENOTFOUND')) }, 'BtpUnreachable'],
    ['a reset', { error: coded('ECONNRESET') }, 'BtpUnreachable'],
    [
      'an AggregateError of refusals',
      { error: Object.assign(new AggregateError([coded('ECONNREFUSED')]), {}) },
      'BtpUnreachable',
    ],
    ['something else', { error: new Error('odd') }, 'BtpUnexpectedResponse'],
  ])('%s', (_name, overrides, code) => {
    expect(classifyTransportFailure({ ...base, ...overrides }).code).toBe(code);
  });

  it('knows which failures cannot have sent the request', () => {
    expect(classifyTransportFailure({ ...base, error: coded('ECONNREFUSED') }).requestSent).toBe(false);
    expect(classifyTransportFailure({ ...base, error: coded('UND_ERR_SOCKET') }).requestSent).toBeUndefined();
    expect(
      classifyTransportFailure({ ...base, error: coded('UND_ERR_ABORTED'), timedOut: true }).requestSent,
    ).toBeUndefined();
  });
});

describe('Secret', () => {
  it('reveals its value only when asked', () => {
    const secret = new Secret('tok-123456789');
    expect(secret.reveal()).toBe('tok-123456789');
    expect(`${secret}`).toBe('[redacted]');
    expect(JSON.stringify({ secret })).toBe('{"secret":"[redacted]"}');
    expect(secret.equals(new Secret('tok-123456789'))).toBe(true);
    expectNoSecrets(secret, ['tok-123456789']);
  });
});

describe('expectNoSecrets', () => {
  it('catches a secret in a message, in a cause, and a PEM line', () => {
    expect(() => expectNoSecrets(new Error('has abcdef-secret'), ['abcdef-secret'])).toThrow();
    expect(() =>
      expectNoSecrets(new Error('outer', { cause: { token: 'abcdef-secret' } }), ['abcdef-secret']),
    ).toThrow();
    const line = 'MIIEpAIBAAKCAQEAx1y2z3abcdefghijklmnopqrstuvwxyz0123456789ABCDEF';
    const pem = `-----BEGIN RSA PRIVATE KEY-----\n${line}\n-----END RSA PRIVATE KEY-----\n`;
    expect(() => expectNoSecrets(new Error(`key ${line}`), [pem])).toThrow();
    expectNoSecrets(new Error('clean'), ['abcdef-secret', pem]);
  });
});
