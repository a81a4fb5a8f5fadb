import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Clock, systemClock } from '../support/btp-simulator/clock.ts';
import { requestCount } from '../support/btp-simulator/counters.ts';
import type { RetryAfterForm } from '../support/btp-simulator/retry-after.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { agentFor, errorCodes, postForm, record, type SmClient, smClient, text } from './helpers.ts';

let sim: Simulator;
let sm: SmClient;
let xsuaaId: string;

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 2 } });
  sm = await smClient(sim);
  xsuaaId = sim.instance('xsuaa-application').id;
});

afterAll(async () => {
  await sm.close();
  await sim.stop();
});

afterEach(() => {
  sim.clearFaults();
});

/** The test's own reading of Retry-After: milliseconds to wait, from `nowMs`. */
function retryAfterMs(header: string, nowMs: number): number {
  if (/^\d+$/.test(header)) return Number(header) * 1000;
  const goTime = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) \+0000 UTC$/.exec(header);
  if (goTime !== null) {
    const [, year, month, day, hour, minute, second] = goTime.map(Number);
    return Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second) - nowMs;
  }
  const date = Date.parse(header);
  if (Number.isNaN(date)) throw new Error(`unparseable Retry-After ${header}`);
  return date - nowMs;
}

describe('status faults', () => {
  it('fails the next N requests with the given status, then recovers', async () => {
    sim.resetCounters();
    sim.injectFault({ kind: 'status', route: 'sm.createBinding', status: 503, times: 2 });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const response = await sm.call('POST', '/v1/service_bindings', {
        name: 'flaky',
        service_instance_id: xsuaaId,
      });
      statuses.push(response.status);
      if (response.status === 503) expect(record(response.body).error).toBe('ServiceUnavailable');
    }
    expect(statuses).toEqual([503, 503, 201]);
    expect(sim.counters().requests['sm.createBinding']).toEqual({ 503: 2, 201: 1 });
    expect(sim.activeFaults()).toEqual([]);
  });

  it.each([['seconds'], ['http-date'], ['go-time']] as const)(
    'sends 429 with a Retry-After in %s form that means the requested delay',
    async (form: RetryAfterForm) => {
      sim.injectFault({
        kind: 'status',
        route: 'sm.listBindings',
        status: 429,
        times: 1,
        retryAfter: { form, seconds: 3 },
      });
      const sentAt = Date.now();
      const limited = await sm.call('GET', '/v1/service_bindings');
      expect(limited.status).toBe(429);
      expect(record(limited.body).error).toBe('TooManyRequests');
      const header = text(limited.headers['retry-after']);
      if (form === 'seconds') expect(header).toBe('3');
      if (form === 'http-date')
        expect(header).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      if (form === 'go-time') expect(header).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+0000 UTC$/);
      const wait = retryAfterMs(header, sentAt);
      // Dates are rounded up to the next whole second: at least the delay, at most a second more.
      expect(wait).toBeGreaterThanOrEqual(form === 'seconds' ? 3000 : 2000);
      expect(wait).toBeLessThanOrEqual(4000 + (Date.now() - sentAt));
      expect((await sm.call('GET', '/v1/service_bindings')).status).toBe(200);
    },
  );

  it('answers an XSUAA fault in the XSUAA error dialect', async () => {
    sim.injectFault({ kind: 'status', route: 'xsuaa.token', status: 500, times: 1 });
    const agent = agentFor(sim);
    const response = await postForm(agent, `${sim.xsuaaUrl}/oauth/token`, {
      grant_type: 'client_credentials',
    });
    await agent.close();
    expect(response.status).toBe(500);
    expect(record(response.body).error_description).toBeTypeOf('string');
  });

  it('gives a 429 without an explicit Retry-After a one-second one', async () => {
    sim.injectFault({ kind: 'status', route: 'sm.getInstance', status: 429, times: 1 });
    const response = await sm.call('GET', `/v1/service_instances/${xsuaaId}`);
    expect(response.headers['retry-after']).toBe('1');
  });
});

describe('error rates, latency and resets', () => {
  it('fails a reproducible share of requests for a given seed', async () => {
    const run = async (): Promise<number[]> => {
      sim.injectFault({ kind: 'errorRate', route: 'sm.listInstances', status: 502, rate: 0.5, seed: 42 });
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 20; attempt += 1) {
        statuses.push((await sm.call('GET', '/v1/service_instances')).status);
      }
      sim.clearFaults();
      return statuses;
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    expect(first).toContain(502);
    expect(first).toContain(200);
  });

  it('holds requests for the injected latency, then answers them', async () => {
    // The simulator waits through its clock: this one holds every sleep until the test lets it go,
    // so the test sees a request held by the latency fault, with no wall-clock measurement.
    const held: { readonly ms: number; readonly release: () => void }[] = [];
    const gated: Clock = {
      now: () => systemClock.now(),
      sleep: (ms) => new Promise<void>((release) => held.push({ ms, release })),
    };
    const slow = await startSimulator({ clock: gated, keyPool: { size: 0 } });
    const client = await smClient(slow);
    try {
      const path = `/v1/service_instances/${slow.instance('xsuaa-application').id}`;
      const id = slow.injectFault({ kind: 'latency', route: 'sm.getInstance', ms: 50, times: 2 });
      for (let attempt = 0; attempt < 2; attempt += 1) {
        let answered = false;
        const answer = client.call('GET', path).finally(() => {
          answered = true;
        });
        await vi.waitFor(() => expect(held.map(({ ms }) => ms)).toEqual([50]), { timeout: 10_000 });
        expect(answered).toBe(false);
        held.shift()?.release();
        expect((await answer).status).toBe(200);
      }
      expect(slow.activeFaults().some((fault) => fault.id === id)).toBe(false);
      expect((await client.call('GET', path)).status).toBe(200);
      expect(held).toEqual([]);
    } finally {
      for (const sleep of held) sleep.release();
      await client.close();
      await slow.stop();
    }
  });

  it('destroys the connection without an answer for a reset fault', async () => {
    sim.resetCounters();
    sim.injectFault({ kind: 'reset', route: 'sm.listOfferings', times: 1 });
    const outcome = await sm.call('GET', '/v1/service_offerings').then(
      (response) => response.status,
      (error: unknown) => error,
    );
    expect(typeof outcome).not.toBe('number');
    expect(errorCodes(outcome).some((code) => code === 'UND_ERR_SOCKET' || code === 'ECONNRESET')).toBe(true);
    expect((await sm.call('GET', '/v1/service_offerings')).status).toBe(200);
    expect(sim.counters().requests['sm.listOfferings']).toEqual({ reset: 1, 200: 1 });
  });
});

describe('operation faults', () => {
  it('answers 202 for the next create with an async fault, even when sync is configured', async () => {
    sim.injectFault({ kind: 'async', route: 'sm.createBinding', times: 1 });
    const first = await sm.call('POST', '/v1/service_bindings', {
      name: 'made-async',
      service_instance_id: xsuaaId,
    });
    const second = await sm.call('POST', '/v1/service_bindings', {
      name: 'stays-sync',
      service_instance_id: xsuaaId,
    });
    expect(first.status).toBe(202);
    expect(text(first.headers.location)).toMatch(/^\/v1\/service_bindings\/[^/]+\/operations\/[^/]+$/);
    expect(second.status).toBe(201);
  });

  it('leaves an async delete stuck', async () => {
    const created = await sm.call('POST', '/v1/service_bindings', {
      name: 'stuck-delete',
      service_instance_id: xsuaaId,
    });
    const id = text(record(created.body).id);
    sim.injectFault({ kind: 'stuckOperation', route: 'sm.deleteBinding', times: 1 });
    const deleting = await sm.call('DELETE', `/v1/service_bindings/${id}`);
    expect(deleting.status).toBe(202);
    for (let poll = 0; poll < 5; poll += 1) await sm.call('GET', text(deleting.headers.location));
    const binding = await sm.call('GET', `/v1/service_bindings/${id}`);
    expect(binding.status).toBe(200);
    expect(record(record(binding.body).last_operation)).toMatchObject({
      type: 'delete',
      state: 'in progress',
    });
  });
});

describe('counters', () => {
  it('records arrival times per route, so retry spacing can be checked', async () => {
    sim.resetCounters();
    for (let attempt = 0; attempt < 3; attempt += 1) await sm.call('GET', '/v1/service_plans');
    const times = sim.counters().requestTimes['sm.listPlans'] ?? [];
    expect(times).toHaveLength(3);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(requestCount(sim.counters(), 'sm.listPlans', 200)).toBe(3);
  });

  it('counts bindings created and deleted, live bindings per instance and tokens issued', async () => {
    const instance = sim.addInstance({ name: 'counted', offering: 'auditlog' });
    sim.resetCounters();
    const ids: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      const response = await sm.call('POST', '/v1/service_bindings', {
        name: `counted-${index}`,
        service_instance_id: instance.id,
      });
      ids.push(text(record(response.body).id));
    }
    await sm.call('DELETE', `/v1/service_bindings/${ids[0]}`);
    const agent = agentFor(sim);
    const { clientid, clientsecret } = sim.smCredentials.secret;
    await postForm(agent, `${sim.xsuaaUrl}/oauth/token`, {
      grant_type: 'client_credentials',
      client_id: clientid,
      client_secret: clientsecret,
    });
    await agent.close();
    const counters = sim.counters();
    expect(counters.bindingsCreated).toBe(3);
    expect(counters.bindingsDeleted).toBe(1);
    expect(counters.liveBindingsByInstance[instance.id]).toBe(2);
    expect(counters.tokensIssued).toBe(1);
    expect(counters.handshakes.xsuaa).toBe(1);
    sim.reset();
    expect(sim.counters().bindingsCreated).toBe(0);
    expect(sim.counters().liveBindingsByInstance[instance.id]).toBe(2);
  });

  it('counts creations per binding name, deletion times, SM requests per client, and fault firings', async () => {
    const instance = sim.addInstance({ name: 'named', offering: 'auditlog' });
    sim.resetCounters();
    const create = async (name: string) =>
      text(
        record(
          (await sm.call('POST', '/v1/service_bindings', { name, service_instance_id: instance.id })).body,
        ).id,
      );
    const first = await create('named-a');
    await create('named-b');
    const deletedFrom = Date.now();
    await sm.call('DELETE', `/v1/service_bindings/${first}`);
    const deletedBy = Date.now();
    await create('named-a'); // the name is free again
    const fault = sim.injectFault({ kind: 'status', route: 'sm.listInstances', status: 502, times: 2 });
    await sm.call('GET', '/v1/service_instances');
    await sm.call('GET', '/v1/service_instances');
    await sm.call('GET', '/v1/service_instances');
    expect(sim.activeFaults().some(({ id }) => id === fault)).toBe(false);

    const counters = sim.counters();
    expect(counters.bindingsCreatedByName).toEqual({ 'named-a': 2, 'named-b': 1 });
    expect(Object.keys(counters.bindingDeletedAt)).toEqual([first]);
    expect(counters.bindingDeletedAt[first]).toBeGreaterThanOrEqual(deletedFrom);
    expect(counters.bindingDeletedAt[first]).toBeLessThanOrEqual(deletedBy);
    // Requests a fault answers never reach authentication; the third one does.
    expect(counters.smRequestsByClient).toEqual({
      [sim.smCredentials.secret.clientid]: {
        'sm.createBinding': 3,
        'sm.deleteBinding': 1,
        'sm.listInstances': 1,
      },
    });
    expect(counters.faultsFired).toEqual({ [fault]: 2 });
    sim.resetCounters();
    expect(sim.counters()).toMatchObject({
      bindingsCreatedByName: {},
      bindingDeletedAt: {},
      smRequestsByClient: {},
      faultsFired: {},
    });
  });
});
