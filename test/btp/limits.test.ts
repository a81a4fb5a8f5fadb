// How much of an answer the BTP clients read (issue 10): a body over the cap of its kind is
// refused with BtpResponseTooLarge and its request aborted (an endless body ends the test only
// because the client hangs up), a list is read up to a number of pages and items, and an API's
// error text is cut to 1 KiB before it is scrubbed, by scrubbers that are one pass each. The
// worst-case inputs are the ones that took seconds to minutes before; they are asserted by outcome.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAllowedHosts } from '../../src/btp/allowed-hosts.ts';
import { safeApiText } from '../../src/btp/api-error.ts';
import { BtpError } from '../../src/btp/errors.ts';
import { BtpHttp, type BtpRequest } from '../../src/btp/http.ts';
import {
  MAX_ERROR_TEXT_LENGTH,
  MAX_LIST_ITEMS,
  RESPONSE_BODY_LIMITS,
  type ResponseKind,
} from '../../src/btp/limits.ts';
import { equalsQuery } from '../../src/btp/query.ts';
import { ServiceManagerClient } from '../../src/btp/service-manager.ts';
import { TokenCache } from '../../src/btp/token-cache.ts';
import { TokenClient } from '../../src/btp/token-client.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { TokenChecker } from '../../src/token/checker.ts';
import { tokenFailure } from '../../src/token/outcome.ts';
import { loopbackHosts } from '../support/allowed-hosts.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { buildHierarchy, keyPem } from '../unit/pki/fixtures.ts';
import { FAST_RETRY, httpFor, rejection, smSecretCredential } from './helpers.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A plain HTTP server on loopback (BtpHttp speaks TLS only where the URL says https). */
let server: Server;
let handler: Handler = (_req, res) => res.end();
let base: string;
let http: BtpHttp;
/** Responses whose connection the client closed before the server finished writing. */
let hungUp = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.on('close', () => {
      if (!res.writableFinished) hungUp += 1;
    });
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  http = new BtpHttp({ clock: systemClock, allowedHosts: loopbackHosts, requestTimeoutMs: 30_000 });
});

afterAll(async () => {
  await http.closeAll();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  hungUp = 0;
});

function request(responseKind: ResponseKind, path = '/'): BtpRequest {
  return {
    operation: 'test',
    credentialId: 'limits',
    method: 'GET',
    url: new URL(path, base),
    responseKind,
  };
}

/** Writes `chunk` until the client hangs up (never ends the response by itself). */
function endless(chunk: string, first = ''): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (first !== '') res.write(first);
    const write = (): void => {
      if (res.destroyed) return;
      if (res.write(chunk)) setImmediate(write);
      else res.once('drain', write);
    };
    write();
  };
}

async function tooLarge(promise: Promise<unknown>): Promise<BtpError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(BtpError);
  expect((error as BtpError).code).toBe('BtpResponseTooLarge');
  return error as BtpError;
}

describe('response bodies', () => {
  it('a token answer that never ends is refused at 256 KiB and its request aborted', async () => {
    handler = endless('x'.repeat(16 * 1024), '{"access_token":"');
    const error = await tooLarge(http.request(request('token', '/oauth/token')));
    expect(error.message).toBe(
      'GET 127.0.0.1:' +
        new URL(base).port +
        '/oauth/token: 200 with a body over 256 KiB, the limit for a token answer; the request was aborted',
    );
    expect(error.httpStatus).toBe(200);
    await expect.poll(() => hungUp, { timeout: 10_000 }).toBe(1);
  });

  it('16 MiB of [{},...] in a list page is refused at 1 MiB (it was parsed whole: ~370 MB of heap)', async () => {
    const sixteenMiB = `[${'{},'.repeat((16 * 1024 * 1024) / 3 - 1)}{}]`;
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(sixteenMiB);
    };
    const error = await tooLarge(http.request(request('page', '/v1/service_bindings')));
    expect(error.message).toContain('with a body over 1 MiB, the limit for a page answer');
  });

  it('a declared Content-Length over the cap is refused before the body is read', async () => {
    handler = (_req, res) => {
      // Promises 2 MiB, sends nothing after the headers: only the header can end the request.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 * 1024 * 1024) });
      res.flushHeaders();
    };
    await tooLarge(http.request(request('page')));
    await expect.poll(() => hungUp, { timeout: 10_000 }).toBe(1);
  });

  it('an error answer is capped like the endpoint it comes from', async () => {
    handler = (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'x'.repeat(RESPONSE_BODY_LIMITS.resource) }));
    };
    const error = await tooLarge(http.request(request('resource')));
    expect(error.httpStatus).toBe(500);
  });

  it.each([
    ['token', RESPONSE_BODY_LIMITS.token],
    ['resource', RESPONSE_BODY_LIMITS.resource],
    ['page', RESPONSE_BODY_LIMITS.page],
  ] as const)('a %s answer of exactly its cap is read and parsed', async (kind, cap) => {
    const body = JSON.stringify({ padding: '' });
    const exact = JSON.stringify({ padding: 'p'.repeat(cap - body.length) });
    expect(Buffer.byteLength(exact)).toBe(cap);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(exact);
    };
    const response = await http.request(request(kind));
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ padding: 'p'.repeat(cap - body.length) });
  });

  it('a token check refused for its answer reads ResponseTooLarge on TokenReady', () => {
    const failure = tokenFailure(
      new BtpError(
        'BtpResponseTooLarge',
        'POST xsuaa.example/oauth/token: 200 with a body over 256 KiB, the limit for a token answer; the request was aborted',
        { httpStatus: 200 },
      ),
    );
    expect(failure.reason).toBe('ResponseTooLarge');
    expect(failure.message).toMatch(/^the token endpoint answered with a body far larger than a token/);
  });
});

describe("a tenant's own token endpoint", () => {
  it('answering 16 MiB to a token check over mTLS ends the check with ResponseTooLarge', async () => {
    // spec.token.url and caBundleRef name a server of the tenant's: here one on loopback whose
    // certificate is trusted only through that bundle.
    const dir = mkdtempSync(join(tmpdir(), 'btpcerts-limits-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const caPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    let hungUpTls = 0;
    const hostile = createHttpsServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: caPem },
      (_req, res) => {
        res.on('close', () => {
          if (!res.writableFinished) hungUpTls += 1;
        });
        endless('{},'.repeat(64 * 1024), '[')(_req, res);
      },
    );
    hostile.listen(0, '127.0.0.1');
    await once(hostile, 'listening');
    const port = (hostile.address() as AddressInfo).port;
    const h = buildHierarchy();
    const checker = new TokenChecker({
      clock: systemClock,
      allowedHosts: parseAllowedHosts('127.0.0.1:*'),
      timeoutMs: 30_000,
    });
    try {
      const outcome = await checker.check({
        owner: 'tenant-a/hostile',
        tokenUrl: `https://127.0.0.1:${port}/oauth/token`,
        clientId: 'sb-1',
        certificate: h.leaf.pem,
        key: keyPem(h.leaf.key, 'pkcs1'),
        caPem,
      });
      expect(outcome).toEqual({
        ok: false,
        reason: 'ResponseTooLarge',
        httpStatus: 200,
        message: `the token endpoint answered with a body far larger than a token; the request was aborted (HTTP 200): POST 127.0.0.1:${port}/oauth/token: 200 with a body over 256 KiB, the limit for a token answer; the request was aborted`,
      });
      await expect.poll(() => hungUpTls, { timeout: 10_000 }).toBe(1);
    } finally {
      await checker.close();
      hostile.closeAllConnections();
      await new Promise((resolve) => hostile.close(resolve));
    }
  });
});

describe('Service Manager lists', () => {
  let sim: Simulator;
  let smHttp: BtpHttp;

  beforeAll(async () => {
    sim = await startSimulator({ keyPool: { size: 1 } });
    smHttp = httpFor(sim);
  });
  afterAll(async () => {
    await smHttp.closeAll();
    await sim.stop();
  });

  it(`refuses a list of more than ${MAX_LIST_ITEMS} items, before it parses them`, async () => {
    const client = new TokenClient({ http: smHttp, clock: systemClock, retry: FAST_RETRY });
    const tokens = new TokenCache({ client, clock: systemClock });
    const sm = new ServiceManagerClient(smSecretCredential(sim), {
      http: smHttp,
      tokens,
      clock: systemClock,
      retry: FAST_RETRY,
      pageSize: 200,
      // 1,001 creates to set the scene: no rate limit (the simulator has none here either).
      rateLimit: { all: [], bindings: [] },
    });
    const crowded = sim.addInstance({ name: 'crowded', offering: 'auditlog' });
    for (let index = 0; index <= MAX_LIST_ITEMS; index += 1)
      await sm.createBinding({ name: `b-${index}`, serviceInstanceId: crowded.id });
    const error = await tooLarge(
      sm.listBindings({ fieldQuery: equalsQuery({ service_instance_id: crowded.id }) }),
    );
    expect(error.message).toMatch(/\/v1\/service_bindings: the list has more than 1000 items/);
  });
});

describe('API error text', () => {
  const secret = 'Sup3rS3cretClientValue-0123456789abcdef';

  it('a 900 KB run of "eyJ" (seconds in the JWT pattern) is cut, then scrubbed', () => {
    expect(safeApiText(`invalid_client: ${'eyJ'.repeat(300_000)}`, [])).toBe('invalid_client: …');
  });

  it('a 900 KB run of "-----BEGIN" and of base64 characters is cut, then scrubbed', () => {
    expect(safeApiText(`bad ${'-----BEGIN'.repeat(90_000)}`, [])).toBe('bad …');
    expect(safeApiText(`bad ${'a'.repeat(39)} `.repeat(20_000), [])).toMatch(/^bad a{39} bad/);
  });

  it(`cuts at ${MAX_ERROR_TEXT_LENGTH} characters and drops the word the cut went through`, () => {
    // The secret straddles the cut: its head alone is not found by a search for the whole secret.
    const text = `${'word '.repeat(200)}${secret} and more`;
    const at = text.indexOf(secret);
    expect(at).toBeLessThan(MAX_ERROR_TEXT_LENGTH);
    expect(at + secret.length).toBeGreaterThan(MAX_ERROR_TEXT_LENGTH);
    const shown = safeApiText(text, [secret]) ?? '';
    expect(shown).not.toContain(secret.slice(0, 8));
  });

  it.each([
    [
      'a JWT',
      'token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln was rejected',
      'token [redacted] was rejected',
    ],
    ['a JWT after an "eyJ" without a dot', 'x eyJ.eyJhbGci.eyJzdWIi y', 'x [redacted] y'],
    [
      'a PEM block',
      'bad -----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE----- here',
      'bad [redacted] here',
    ],
    ['a PEM block without its end', 'bad -----BEGIN RSA PRIVATE KEY-----\nMIIE', 'bad [redacted]'],
    ['a long base64 run', `key ${'A'.repeat(40)}= end`, 'key [redacted] end'],
    ['a known secret', `client ${secret} unknown`, 'client [redacted] unknown'],
    ['an "eyJ" without a dot', 'see eyJustLooking', 'see eyJustLooking'],
  ])('redacts %s', (_name, text, shown) => {
    expect(safeApiText(text, [secret])).toBe(shown);
  });
});
