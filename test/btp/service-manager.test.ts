// The Service Manager client against the simulator over real TLS: bindings created in both ways,
// operations that succeed, fail or never end, the error mapping, paging, idempotent deletes,
// labels, instances, the token refresh on 401, and retries that honour Retry-After.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BtpError } from '../../src/btp/errors.ts';
import type { BtpHttp } from '../../src/btp/http.ts';
import { buildQuery, equalsQuery } from '../../src/btp/query.ts';
import { ServiceManagerClient, type SmCredential } from '../../src/btp/service-manager.ts';
import { TokenCache } from '../../src/btp/token-cache.ts';
import { TokenClient } from '../../src/btp/token-client.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { offsetClock } from '../support/btp-simulator/clock.ts';
import { requestCount } from '../support/btp-simulator/counters.ts';
import type { RetryAfterForm } from '../support/btp-simulator/retry-after.ts';
import type { Route } from '../support/btp-simulator/routes.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { FakeClock } from '../support/fake-clock.ts';
import {
  expectNoSecrets,
  FAST_POLLING,
  FAST_RETRY,
  httpFor,
  rejection,
  retryWaitMs,
  simulatorClock,
  smSecretCredential,
  smX509Credential,
  timedSimulator,
  timeOnly,
} from './helpers.ts';

const X509 = {
  'credential-type': 'x509',
  x509: { 'key-length': 2048, validity: 7, 'validity-type': 'DAYS' },
} as const;

let sim: Simulator;
let http: BtpHttp;
let tokens: TokenCache;
let sm: ServiceManagerClient;
let instanceId: string;

function clientFor(credential: SmCredential, credentialId?: string): ServiceManagerClient {
  return new ServiceManagerClient(credential, {
    http,
    tokens,
    clock: systemClock,
    retry: FAST_RETRY,
    polling: FAST_POLLING,
    ...(credentialId === undefined ? {} : { credentialId }),
  });
}

/** Everything an error of this file must not show: the SM secrets and the tokens in use. */
async function secrets(): Promise<string[]> {
  const { clientsecret } = sim.smCredentials.secret;
  const { certificate, key } = sim.smCredentials.x509;
  const token = await tokens.get({ ...smSecretCredential(sim) });
  return [clientsecret, certificate, key, token.accessToken.reveal()];
}

async function failure(promise: Promise<unknown>): Promise<BtpError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(BtpError);
  expectNoSecrets(error, await secrets());
  return error as BtpError;
}

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 4 } });
  instanceId = sim.instance('xsuaa-application').id;
});

afterAll(async () => {
  await sim.stop();
});

beforeEach(() => {
  http = httpFor(sim);
  tokens = new TokenCache({
    client: new TokenClient({ http, clock: systemClock, retry: FAST_RETRY }),
    clock: systemClock,
  });
  sm = clientFor(smSecretCredential(sim));
});

afterEach(async () => {
  sim.clearFaults();
  sim.updateSettings({ async: { create: false, delete: false } });
  await http.closeAll();
});

describe('createBinding', () => {
  it('returns the binding with its credentials on 201', async () => {
    const binding = await sm.createBinding({
      name: 'sync-binding',
      serviceInstanceId: instanceId,
      parameters: X509,
      labels: { owner: ['test'] },
    });
    expect(binding).toMatchObject({ name: 'sync-binding', serviceInstanceId: instanceId, ready: true });
    expect(binding.labels).toEqual({ owner: ['test'] });
    expect(String(binding.credentials.certificate)).toContain('BEGIN CERTIFICATE');
    expect(binding.credentials['credential-type']).toBe('x509');
    expect(http.counts()['sm.createBinding']).toEqual({ 201: 1 });
  });

  it('keeps the credentials out of the JSON and inspect views of a binding', async () => {
    const binding = await sm.createBinding({
      name: 'redacted-view',
      serviceInstanceId: instanceId,
      parameters: X509,
    });
    expectNoSecrets(binding, [String(binding.credentials.key), String(binding.credentials.certificate)]);
    expect(JSON.parse(JSON.stringify(binding))).toMatchObject({ id: binding.id, credentials: '[redacted]' });
  });

  it('polls the operation of a 202 until it succeeded, then reads the binding', async () => {
    sim.injectFault({ kind: 'async', route: 'sm.createBinding', times: 1 });
    sim.resetCounters();
    const binding = await sm.createBinding({
      name: 'async-binding',
      serviceInstanceId: instanceId,
      parameters: X509,
    });
    expect(binding.name).toBe('async-binding');
    expect(String(binding.credentials.key)).toContain('PRIVATE KEY');
    const counters = sim.counters();
    expect(counters.requests['sm.createBinding']).toEqual({ 202: 1 });
    // The simulator finishes an operation on its third poll.
    expect(counters.requests['sm.getOperation']).toEqual({ 200: 3 });
    expect(counters.requests['sm.getBinding']).toEqual({ 200: 1 });
  });

  it('ends a create whose operation never finishes with BtpOperationTimeout at the deadline', async () => {
    sim.injectFault({ kind: 'stuckOperation', route: 'sm.createBinding', times: 1 });
    const error = await failure(
      sm.createBinding({ name: 'stuck-binding', serviceInstanceId: instanceId }, { deadlineMs: 400 }),
    );
    expect(error.code).toBe('BtpOperationTimeout');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(
      /^GET 127\.0\.0\.1:\d+\/v1\/service_bindings\/[^/]+\/operations\/[^/ ]+: the create operation was still (pending|in progress) after \d+ ms$/,
    );
  });

  it('reports a failed operation as BtpOperationFailed', async () => {
    sim.injectFault({ kind: 'failOperation', route: 'sm.createBinding', times: 1 });
    const error = await failure(sm.createBinding({ name: 'failing-binding', serviceInstanceId: instanceId }));
    expect(error.code).toBe('BtpOperationFailed');
    expect(error.message).toContain('simulated create failure');
  });

  it('maps 409 (name taken) to BtpConflict and 400 to BtpBadRequest, without retrying them', async () => {
    await sm.createBinding({ name: 'taken', serviceInstanceId: instanceId });
    sim.resetCounters();
    const conflict = await failure(sm.createBinding({ name: 'taken', serviceInstanceId: instanceId }));
    expect(conflict).toMatchObject({ code: 'BtpConflict', httpStatus: 409, retryable: false });
    expect(conflict.message).toMatch(/^POST 127\.0\.0\.1:\d+\/v1\/service_bindings: 409 Conflict: /);

    const unknownInstance = await failure(
      sm.createBinding({ name: 'x', serviceInstanceId: 'no-such-instance' }),
    );
    expect(unknownInstance).toMatchObject({ code: 'BtpBadRequest', httpStatus: 400, retryable: false });
    const badParameters = await failure(
      sm.createBinding({
        name: 'bad-parameters',
        serviceInstanceId: instanceId,
        parameters: { 'credential-type': 'x509', x509: { 'key-length': 1234 } },
      }),
    );
    expect(badParameters.code).toBe('BtpBadRequest');
    expect(sim.counters().requests['sm.createBinding']).toEqual({ 409: 1, 400: 2 });
  });

  it('retries a 5xx burst, but not a create whose connection was dropped (it may have happened)', async () => {
    sim.injectFault({ kind: 'status', route: 'sm.createBinding', status: 502, times: 2 });
    sim.resetCounters();
    await sm.createBinding({ name: 'after-502', serviceInstanceId: instanceId });
    expect(sim.counters().requests['sm.createBinding']).toEqual({ 502: 2, 201: 1 });

    sim.injectFault({ kind: 'reset', route: 'sm.createBinding', times: 1 });
    const dropped = await failure(sm.createBinding({ name: 'dropped', serviceInstanceId: instanceId }));
    expect(dropped.code).toBe('BtpUnreachable');
    expect(dropped.retryable).toBe(true);
    expect(requestCount(sim.counters(), 'sm.createBinding', 'reset')).toBe(1);
    expect(requestCount(sim.counters(), 'sm.createBinding')).toBe(4);
  });
});

describe('reading, listing, labels', () => {
  it('gets a binding, and undefined for one that does not exist', async () => {
    const created = await sm.createBinding({ name: 'to-read', serviceInstanceId: instanceId });
    const read = await sm.getBinding(created.id);
    expect(read?.id).toBe(created.id);
    expect(read?.credentials).toEqual(created.credentials);
    expect(await sm.getBinding('00000000-0000-0000-0000-000000000000')).toBeUndefined();
  });

  it('follows the paging tokens over more than one page', async () => {
    const instance = sim.addInstance({ name: 'paging', offering: 'auditlog' });
    const ids: string[] = [];
    for (let index = 0; index < 7; index += 1) {
      const binding = await sm.createBinding({
        name: `page-${index}`,
        serviceInstanceId: instance.id,
        labels: { batch: ['paging'] },
      });
      ids.push(binding.id);
    }
    const paged = new ServiceManagerClient(smSecretCredential(sim), {
      http,
      tokens,
      clock: systemClock,
      retry: FAST_RETRY,
      pageSize: 3,
    });
    sim.resetCounters();
    const listed = await paged.listBindings({ labelQuery: equalsQuery({ batch: 'paging' }) });
    expect(listed.map((binding) => binding.id)).toEqual(ids);
    expect(sim.counters().requests['sm.listBindings']).toEqual({ 200: 3 });

    const one = await paged.listBindings({
      fieldQuery: buildQuery([
        { key: 'service_instance_id', op: 'eq', value: instance.id },
        { key: 'name', op: 'in', values: ['page-1', 'page-5'] },
      ]),
    });
    expect(one.map((binding) => binding.name)).toEqual(['page-1', 'page-5']);
  });

  it('adds and removes labels', async () => {
    const created = await sm.createBinding({
      name: 'labelled',
      serviceInstanceId: instanceId,
      labels: { keep: ['1'], drop: ['x'] },
    });
    const updated = await sm.updateLabels(created.id, [
      { op: 'add', key: 'new', values: ['a', 'b'] },
      { op: 'remove', key: 'drop' },
    ]);
    expect(updated.labels).toEqual({ keep: ['1'], new: ['a', 'b'] });
    const missing = await failure(
      sm.updateLabels('no-such-binding', [{ op: 'add', key: 'k', values: ['v'] }]),
    );
    expect(missing).toMatchObject({ code: 'BtpNotFound', httpStatus: 404 });
  });

  it('gets and finds instances by name, with quotes in the name escaped', async () => {
    const quoted = sim.addInstance({ name: "team's xsuaa", offering: 'xsuaa' });
    expect((await sm.getInstance(quoted.id))?.name).toBe("team's xsuaa");
    expect(await sm.getInstance('no-such-instance')).toBeUndefined();
    expect((await sm.findInstanceByName("team's xsuaa"))?.id).toBe(quoted.id);
    expect((await sm.findInstanceByName('xsuaa-application'))?.id).toBe(instanceId);
    expect(await sm.findInstanceByName('nothing-like-this')).toBeUndefined();
    // A value cannot break out of its quotes and add a criterion of its own.
    expect(await sm.findInstanceByName("x' or name eq 'xsuaa-application")).toBeUndefined();
  });
});

describe('deleteBinding', () => {
  it('is idempotent: a binding that is already gone is fine', async () => {
    const created = await sm.createBinding({ name: 'delete-twice', serviceInstanceId: instanceId });
    await sm.deleteBinding(created.id);
    await sm.deleteBinding(created.id);
    expect(http.counts()['sm.deleteBinding']).toEqual({ 200: 1, 404: 1 });
    expect(await sm.getBinding(created.id)).toBeUndefined();
  });

  it('waits for an async delete', async () => {
    const created = await sm.createBinding({ name: 'delete-async', serviceInstanceId: instanceId });
    sim.updateSettings({ async: { delete: true } });
    await sm.deleteBinding(created.id);
    expect(http.counts()['sm.deleteBinding']).toEqual({ 202: 1 });
    expect(await sm.getBinding(created.id)).toBeUndefined();
  });

  it('maps 422 (another operation in progress) to a retryable BtpConcurrentOperation', async () => {
    const created = await sm.createBinding({ name: 'busy', serviceInstanceId: instanceId });
    sim.injectFault({ kind: 'stuckOperation', route: 'sm.deleteBinding', times: 1 });
    const timeout = await failure(sm.deleteBinding(created.id, { deadlineMs: 200 }));
    expect(timeout.code).toBe('BtpOperationTimeout');
    const busy = await failure(sm.deleteBinding(created.id));
    expect(busy).toMatchObject({ code: 'BtpConcurrentOperation', httpStatus: 422, retryable: true });
    const busyLabels = await failure(sm.updateLabels(created.id, [{ op: 'add', key: 'k', values: ['v'] }]));
    expect(busyLabels.code).toBe('BtpConcurrentOperation');
  });
});

describe('access and retries', () => {
  it('works with the x509 form of the SM credential (token from the certurl)', async () => {
    const x509 = clientFor(smX509Credential(sim), 'sm-x509');
    sim.resetCounters();
    expect((await x509.getInstance(instanceId))?.id).toBe(instanceId);
    expect(requestCount(sim.counters(), 'xsuaa.certToken', 200)).toBe(1);
  });

  it('reuses one token for many calls', async () => {
    sim.resetCounters();
    for (let call = 0; call < 5; call += 1) await sm.getInstance(instanceId);
    expect(sim.counters().tokensIssued).toBe(1);
  });

  it('honours Retry-After in all three forms, never coming back sooner', async () => {
    // One fake clock for the simulator (which writes the dates), the time our client reads them
    // against, and the client's retry waits: the test reads each wait, then lets it pass. 1 s is
    // far above FAST_RETRY's backoff (20-100 ms, ±20 %), so only Retry-After explains it.
    const clock = new FakeClock();
    const timed = await startSimulator({ keyPool: { size: 0 }, clock: simulatorClock(clock) });
    const timedHttp = httpFor(timed, { clock: timeOnly(clock) });
    try {
      const client = new ServiceManagerClient(smSecretCredential(timed), {
        http: timedHttp,
        tokens: new TokenCache({
          client: new TokenClient({ http: timedHttp, clock, retry: FAST_RETRY }),
          clock,
        }),
        clock,
        retry: FAST_RETRY,
        polling: FAST_POLLING,
      });
      const instance = timed.instance('xsuaa-application').id;
      const cases: readonly [Route, RetryAfterForm, () => Promise<unknown>][] = [
        [
          'sm.listBindings',
          'seconds',
          () => client.listBindings({ fieldQuery: equalsQuery({ name: 'none' }) }),
        ],
        ['sm.getInstance', 'http-date', () => client.getInstance(instance)],
        ['sm.listInstances', 'go-time', () => client.findInstanceByName('xsuaa-application')],
      ];
      await client.getBinding('warm-up-the-token');
      for (const [route, form, call] of cases) {
        timed.injectFault({ kind: 'status', route, status: 429, times: 1, retryAfter: { form, seconds: 1 } });
        timed.resetCounters();
        const result = call();
        expect(await retryWaitMs(clock), route).toBe(1_000);
        expect(timed.counters().requests[route], route).toEqual({ 429: 1 });
        await clock.advance(1_000);
        await result;
        expect(timed.counters().requests[route], route).toEqual({ 429: 1, 200: 1 });
      }
    } finally {
      await timedHttp.closeAll();
      await timed.stop();
    }
  });

  it('ends with BtpRateLimited carrying the delay when Retry-After is longer than the policy waits', async () => {
    sim.injectFault({
      kind: 'status',
      route: 'sm.getInstance',
      status: 429,
      times: 1,
      retryAfter: { form: 'seconds', seconds: 120 },
    });
    const error = await failure(sm.getInstance(instanceId));
    expect(error).toMatchObject({ code: 'BtpRateLimited', httpStatus: 429, retryAfterMs: 120_000 });
  });

  it('maps 403 (a valid token of a client that is not an SM client) to BtpForbidden', async () => {
    const binding = await sm.createBinding({ name: 'not-sm', serviceInstanceId: instanceId });
    const credentials = binding.credentials;
    const stranger = clientFor(
      {
        smUrl: sim.smUrl,
        tokenUrl: `${String(credentials.url)}/oauth/token`,
        clientId: String(credentials.clientid),
        clientSecret: String(credentials.clientsecret),
      },
      'stranger',
    );
    const error = await failure(stranger.getInstance(instanceId));
    expect(error).toMatchObject({ code: 'BtpForbidden', httpStatus: 403 });
    expectNoSecrets(error, [String(credentials.clientsecret)]);
  });

  it('closes its pools and forgets its token on close()', async () => {
    const own = clientFor(smSecretCredential(sim), 'closing');
    await own.getInstance(instanceId);
    const pools = http.poolCount;
    await own.close();
    expect(http.poolCount).toBeLessThan(pools);
  });
});

describe('token refresh on 401', () => {
  const simClock = offsetClock();
  let drifting: Simulator;

  beforeAll(async () => {
    drifting = await startSimulator({ keyPool: { size: 0 }, clock: simClock });
  });

  afterAll(async () => {
    await drifting.stop();
  });

  beforeEach(async () => {
    // Another simulator, another CA: clients that trust this one.
    await http.closeAll();
    http = httpFor(drifting);
    tokens = new TokenCache({
      client: new TokenClient({ http, clock: systemClock, retry: FAST_RETRY }),
      clock: systemClock,
    });
  });

  it('refreshes a token the SM no longer accepts once, and succeeds', async () => {
    const client = clientFor(smSecretCredential(drifting));
    const instance = drifting.instance('xsuaa-application').id;
    await client.getInstance(instance);
    // The SM's clock passes the token's expiry while our cache still holds it.
    simClock.advance(13 * 3_600_000);
    drifting.resetCounters();
    expect((await client.getInstance(instance))?.id).toBe(instance);
    expect(drifting.counters().requests['sm.getInstance']).toEqual({ 401: 1, 200: 1 });
    expect(drifting.counters().tokensIssued).toBe(1);
  });

  it('gives up with BtpUnauthorized when the credential itself was revoked', async () => {
    const credential = smSecretCredential(drifting);
    const client = clientFor(credential);
    const instance = drifting.instance('xsuaa-application').id;
    await client.getInstance(instance);
    drifting.revokeSmCredentials(drifting.smCredentials.secret.clientid);
    simClock.advance(13 * 3_600_000);
    drifting.resetCounters();
    const error = await rejection(client.getInstance(instance));
    expect(error).toMatchObject({ code: 'BtpUnauthorized', httpStatus: 401 });
    expectNoSecrets(error, [drifting.smCredentials.secret.clientsecret]);
    expect(drifting.counters().requests['sm.getInstance']).toEqual({ 401: 1 });
    // The token failure is not retried again by the SM call's own retry loop.
    expect(drifting.counters().requests['xsuaa.token']).toEqual({ 401: 1 });
  });
});

describe('rate limits: every request waits for its turn', () => {
  // Regression: the limit was taken once per port call, so an operation's polls and a call's
  // retries went out unlimited. One request a second here; the fake clock only moves when the
  // test says so, so a request that goes before its turn shows in the simulator's counters.
  const ONE_PER_SECOND = { all: [{ perSecond: 1, burst: 1 }], bindings: [] };

  it('polls of an operation and the read after it', async () => {
    const t = await timedSimulator();
    try {
      t.sim.updateSettings({ async: { create: true, polls: 1, durationMs: 0 } });
      const client = new ServiceManagerClient(smSecretCredential(t.sim), {
        http: t.http,
        tokens: t.tokens,
        clock: t.clock,
        retry: FAST_RETRY,
        polling: FAST_POLLING,
        rateLimit: ONE_PER_SECOND,
      });
      const startMs = t.clock.nowMs();
      const count = (route: Route) => requestCount(t.sim.counters(), route);
      const created = client.createBinding({
        name: 'paced',
        serviceInstanceId: t.sim.instance('xsuaa-application').id,
      });
      // The POST went (202); the client waits out the poll backoff (10-40 ms), then its turn.
      await retryWaitMs(t.clock);
      expect(count('sm.createBinding')).toBe(1);
      await t.clock.advance(100);
      expect(await retryWaitMs(t.clock)).toBe(startMs + 1_000 - t.clock.nowMs());
      expect(count('sm.getOperation')).toBe(0);
      await t.clock.advance(900);
      // The poll went (succeeded); the GET of the binding waits for the next second.
      expect(await retryWaitMs(t.clock)).toBe(1_000);
      expect(count('sm.getOperation')).toBe(1);
      expect(count('sm.getBinding')).toBe(0);
      await t.clock.advance(1_000);
      expect((await created).name).toBe('paced');
      expect(count('sm.getBinding')).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('retries', async () => {
    const t = await timedSimulator();
    try {
      const client = new ServiceManagerClient(smSecretCredential(t.sim), {
        http: t.http,
        tokens: t.tokens,
        clock: t.clock,
        retry: FAST_RETRY,
        rateLimit: ONE_PER_SECOND,
      });
      const instance = t.sim.instance('xsuaa-application').id;
      t.sim.injectFault({ kind: 'status', route: 'sm.getInstance', status: 503, times: 1 });
      const startMs = t.clock.nowMs();
      const read = client.getInstance(instance);
      // The first attempt got 503; the retry waits out its backoff (20-100 ms), then its turn.
      await retryWaitMs(t.clock);
      expect(t.sim.counters().requests['sm.getInstance']).toEqual({ 503: 1 });
      await t.clock.advance(150);
      expect(await retryWaitMs(t.clock)).toBe(startMs + 1_000 - t.clock.nowMs());
      expect(t.sim.counters().requests['sm.getInstance']).toEqual({ 503: 1 });
      await t.clock.advance(1_000);
      expect((await read)?.id).toBe(instance);
      expect(t.sim.counters().requests['sm.getInstance']).toEqual({ 503: 1, 200: 1 });
    } finally {
      await t.close();
    }
  });
});
