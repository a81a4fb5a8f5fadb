import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offsetClock } from '../support/btp-simulator/clock.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import {
  agentFor,
  createX509Binding,
  getJson,
  postForm,
  record,
  type SmClient,
  smClient,
  smToken,
  text,
} from './helpers.ts';

const clock = offsetClock();
let sim: Simulator;
let sm: SmClient;
let xsuaaId: string;
let destinationId: string;

beforeAll(async () => {
  sim = await startSimulator({ clock });
  sm = await smClient(sim);
  xsuaaId = sim.instance('xsuaa-application').id;
  destinationId = sim.instance('destination-lite').id;
});

afterAll(async () => {
  await sm.close();
  await sim.stop();
});

function items(body: unknown): Record<string, unknown>[] {
  const list = record(body).items;
  if (!Array.isArray(list)) throw new Error('no items');
  return list.map(record);
}

describe('bearer authentication', () => {
  it('answers 401 without a token, with a forged token and with an expired one', async () => {
    const agent = agentFor(sim);
    const missing = await getJson(agent, `${sim.smUrl}/v1/service_bindings`);
    const token = await smToken(sim, agent);
    const [header, payload] = token.split('.');
    const forged = await getJson(agent, `${sim.smUrl}/v1/service_bindings`, {
      authorization: `Bearer ${header}.${payload}.${Buffer.from('nope').toString('base64url')}`,
    });
    const garbage = await getJson(agent, `${sim.smUrl}/v1/service_bindings`, { authorization: 'Bearer abc' });
    const valid = await getJson(agent, `${sim.smUrl}/v1/service_bindings`, {
      authorization: `Bearer ${token}`,
    });
    clock.advance(43_200_000);
    const expired = await getJson(agent, `${sim.smUrl}/v1/service_bindings`, {
      authorization: `Bearer ${token}`,
    });
    clock.advance(-43_200_000);
    await agent.close();
    expect(valid.status).toBe(200);
    for (const response of [missing, forged, garbage, expired]) {
      expect(response.status).toBe(401);
      expect(record(response.body).error).toBe('Unauthorized');
    }
    expect(text(record(expired.body).description)).toMatch(/expired/);
  });

  it('answers 403 for a token of a client that is not an SM client', async () => {
    const secretBinding = await sm.call('POST', '/v1/service_bindings', {
      name: 'not-sm',
      service_instance_id: xsuaaId,
    });
    const credentials = record(record(secretBinding.body).credentials);
    const agent = agentFor(sim);
    const tokenResponse = await postForm(agent, `${sim.xsuaaUrl}/oauth/token`, {
      grant_type: 'client_credentials',
      client_id: text(credentials.clientid),
      client_secret: text(credentials.clientsecret),
    });
    const response = await getJson(agent, `${sim.smUrl}/v1/service_bindings`, {
      authorization: `Bearer ${text(record(tokenResponse.body).access_token)}`,
    });
    await agent.close();
    expect(response.status).toBe(403);
  });
});

describe('creating bindings', () => {
  it('creates an x509 binding synchronously: 201 with the documented credential fields', async () => {
    const response = await sm.call('POST', '/v1/service_bindings', {
      name: 'sync-x509',
      service_instance_id: xsuaaId,
      parameters: {
        'credential-type': 'x509',
        x509: { 'key-length': 2048, validity: 7, 'validity-type': 'DAYS' },
      },
      labels: { app: ['demo'] },
    });
    expect(response.status).toBe(201);
    const binding = record(response.body);
    expect(binding).toMatchObject({
      name: 'sync-x509',
      service_instance_id: xsuaaId,
      labels: { app: ['demo'] },
      ready: true,
    });
    expect(record(binding.last_operation)).toMatchObject({ type: 'create', state: 'succeeded' });
    const credentials = record(binding.credentials);
    for (const field of [
      'certificate',
      'key',
      'clientid',
      'certurl',
      'url',
      'xsappname',
      'uaadomain',
      'identityzone',
      'tenantid',
      'subaccountid',
      'serviceInstanceId',
      'apiurl',
      'verificationkey',
      'certificate-pinning',
    ]) {
      expect(credentials, field).toHaveProperty(field);
    }
    expect(credentials['credential-type']).toBe('x509');
    expect(credentials).not.toHaveProperty('clientsecret');
    expect(text(credentials.key)).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(credentials.certurl).toBe(sim.xsuaaCertUrl);
    expect(credentials.serviceInstanceId).toBe(xsuaaId);

    const read = await sm.call('GET', `/v1/service_bindings/${text(binding.id)}`);
    expect(read.status).toBe(200);
    expect(record(read.body).credentials).toEqual(credentials);
  });

  it('gives every binding its own clientid', async () => {
    const first = await createX509Binding(sm, xsuaaId, 'unique-1');
    const second = await createX509Binding(sm, xsuaaId, 'unique-2');
    expect(first.credentials.clientid).not.toBe(second.credentials.clientid);
  });

  it('nests the x509 request under xsuaa for destination instances and adds uri', async () => {
    const nested = await sm.call('POST', '/v1/service_bindings', {
      name: 'dest-nested',
      service_instance_id: destinationId,
      parameters: { xsuaa: { 'credential-type': 'x509', x509: { validity: 2, 'validity-type': 'DAYS' } } },
    });
    expect(nested.status).toBe(201);
    const credentials = record(record(nested.body).credentials);
    expect(credentials['credential-type']).toBe('x509');
    expect(credentials.uri).toBeTypeOf('string');
  });

  it.each([
    [
      'flat parameters for a destination instance',
      'destination-lite',
      { 'credential-type': 'x509', x509: {} },
    ],
    [
      'nested parameters for an xsuaa instance',
      'xsuaa-application',
      { xsuaa: { 'credential-type': 'x509' } },
    ],
    ['a misspelled credential-type key', 'xsuaa-application', { credential_type: 'x509' }],
    ['no parameters', 'xsuaa-application', undefined],
  ])('silently returns a client-secret binding for %s', async (_label, instanceName, parameters) => {
    const response = await sm.call('POST', '/v1/service_bindings', {
      name: `misplaced-${_label.replaceAll(' ', '-')}`,
      service_instance_id: sim.instance(instanceName).id,
      ...(parameters === undefined ? {} : { parameters }),
    });
    expect(response.status).toBe(201);
    const credentials = record(record(response.body).credentials);
    expect(credentials['credential-type']).toBe('binding-secret');
    expect(credentials.clientsecret).toBeTypeOf('string');
    expect(credentials).not.toHaveProperty('certificate');
  });

  it.each([
    ['an unknown instance', { service_instance_id: 'no-such-instance' }],
    ['key-length 1234', { parameters: { 'credential-type': 'x509', x509: { 'key-length': 1234 } } }],
    [
      'validity 31 DAYS',
      { parameters: { 'credential-type': 'x509', x509: { validity: 31, 'validity-type': 'DAYS' } } },
    ],
    ['validity 0', { parameters: { 'credential-type': 'x509', x509: { validity: 0 } } }],
    [
      'an unknown validity-type',
      { parameters: { 'credential-type': 'x509', x509: { 'validity-type': 'WEEKS' } } },
    ],
    ['an unknown credential-type', { parameters: { 'credential-type': 'x999' } }],
    ['a missing name', { name: undefined }],
    ['labels that are not string arrays', { labels: { app: 'demo' } }],
  ])('answers 400 for %s', async (_label, override) => {
    const response = await sm.call('POST', '/v1/service_bindings', {
      name: 'bad-input',
      service_instance_id: xsuaaId,
      ...override,
    });
    expect(response.status).toBe(400);
    expect(record(response.body).error).toBe('BadRequest');
    expect(record(response.body).description).toBeTypeOf('string');
  });

  it('answers 400 for a body that is not JSON', async () => {
    const token = await smToken(sim, sm.agent);
    const response = await request(`${sim.smUrl}/v1/service_bindings`, {
      dispatcher: sm.agent,
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(response.statusCode).toBe(400);
    await response.body.dump();
  });

  it('answers 409 when the name is already used in that instance, and not in another one', async () => {
    await createX509Binding(sm, xsuaaId, 'taken');
    const again = await sm.call('POST', '/v1/service_bindings', {
      name: 'taken',
      service_instance_id: xsuaaId,
    });
    expect(again.status).toBe(409);
    expect(record(again.body).error).toBe('Conflict');
    const elsewhere = await sm.call('POST', '/v1/service_bindings', {
      name: 'taken',
      service_instance_id: destinationId,
    });
    expect(elsewhere.status).toBe(201);
  });
});

describe('async operations', () => {
  it('answers 202 + Location, hides the binding until the operation has walked pending -> in progress -> succeeded', async () => {
    const created = await sm.call('POST', '/v1/service_bindings?async=true', {
      name: 'async-create',
      service_instance_id: xsuaaId,
      parameters: { 'credential-type': 'x509' },
    });
    expect(created.status).toBe(202);
    expect(created.body).toEqual({});
    const location = text(created.headers.location);
    const [, bindingId] = /^\/v1\/service_bindings\/([^/]+)\/operations\/[^/]+$/.exec(location) ?? [];
    expect(bindingId).toBeDefined();

    expect((await sm.call('GET', `/v1/service_bindings/${bindingId}`)).status).toBe(404);
    const listed = await sm.call(
      'GET',
      `/v1/service_bindings?fieldQuery=${encodeURIComponent("name eq 'async-create'")}`,
    );
    expect(record(listed.body).num_items).toBe(0);

    const states: unknown[] = [];
    for (let poll = 0; poll < 3; poll += 1) {
      const operation = await sm.call('GET', location);
      expect(operation.status).toBe(200);
      states.push(record(operation.body).state);
      if (poll < 2) expect((await sm.call('GET', `/v1/service_bindings/${bindingId}`)).status).toBe(404);
    }
    expect(states).toEqual(['pending', 'in progress', 'succeeded']);

    const binding = await sm.call('GET', `/v1/service_bindings/${bindingId}`);
    expect(binding.status).toBe(200);
    expect(record(record(binding.body).credentials)['credential-type']).toBe('x509');
  });

  it('answers 422 for a delete while the create is still running, and for a second delete', async () => {
    const created = await sm.call('POST', '/v1/service_bindings?async=true', {
      name: 'async-busy',
      service_instance_id: xsuaaId,
    });
    const location = text(created.headers.location);
    const bindingId = location.split('/')[3];
    const busy = await sm.call('DELETE', `/v1/service_bindings/${bindingId}`);
    expect(busy.status).toBe(422);
    expect(record(busy.body).error).toBe('ConcurrentOperationInProgress');
    for (let poll = 0; poll < 3; poll += 1) await sm.call('GET', location);

    const deleting = await sm.call('DELETE', `/v1/service_bindings/${bindingId}?async=true`);
    expect(deleting.status).toBe(202);
    expect((await sm.call('DELETE', `/v1/service_bindings/${bindingId}`)).status).toBe(422);
    expect(
      (
        await sm.call('PATCH', `/v1/service_bindings/${bindingId}`, {
          labels: [{ op: 'add', key: 'k', values: ['v'] }],
        })
      ).status,
    ).toBe(422);
    const deleteLocation = text(deleting.headers.location);
    const states: unknown[] = [];
    for (let poll = 0; poll < 3; poll += 1)
      states.push(record((await sm.call('GET', deleteLocation)).body).state);
    expect(states).toEqual(['pending', 'in progress', 'succeeded']);
    expect((await sm.call('GET', `/v1/service_bindings/${bindingId}`)).status).toBe(404);
    expect((await sm.call('DELETE', `/v1/service_bindings/${bindingId}`)).status).toBe(404);
  });

  it('ends an operation in state failed on a failOperation fault and leaves no binding', async () => {
    sim.injectFault({ kind: 'failOperation', route: 'sm.createBinding', times: 1 });
    const created = await sm.call('POST', '/v1/service_bindings', {
      name: 'fails',
      service_instance_id: xsuaaId,
    });
    expect(created.status).toBe(202);
    const location = text(created.headers.location);
    let last: Record<string, unknown> = {};
    for (let poll = 0; poll < 3; poll += 1) last = record((await sm.call('GET', location)).body);
    expect(last.state).toBe('failed');
    expect(record(last.errors).description).toBeTypeOf('string');
    expect((await sm.call('GET', `/v1/service_bindings/${location.split('/')[3]}`)).status).toBe(404);
    // The name is free again.
    expect(
      (await sm.call('POST', '/v1/service_bindings', { name: 'fails', service_instance_id: xsuaaId })).status,
    ).toBe(201);
  });

  it('never finishes a stuck operation', async () => {
    sim.injectFault({ kind: 'stuckOperation', route: 'sm.createBinding', times: 1 });
    const created = await sm.call('POST', '/v1/service_bindings', {
      name: 'stuck',
      service_instance_id: xsuaaId,
    });
    const location = text(created.headers.location);
    const states = new Set<unknown>();
    for (let poll = 0; poll < 10; poll += 1) states.add(record((await sm.call('GET', location)).body).state);
    expect(states).toEqual(new Set(['pending', 'in progress']));
  });

  it('answers 404 for an unknown operation', async () => {
    expect((await sm.call('GET', '/v1/service_bindings/x/operations/y')).status).toBe(404);
  });
});

describe('listing, updating and deleting', () => {
  let listInstance: string;
  beforeAll(async () => {
    listInstance = sim.addInstance({ name: 'list-xsuaa', offering: 'xsuaa' }).id;
    for (let index = 0; index < 5; index += 1) {
      const response = await sm.call('POST', '/v1/service_bindings', {
        name: `list-${index}`,
        service_instance_id: listInstance,
        labels: { tier: [index % 2 === 0 ? 'even' : 'odd'], owner: ['btp-cert-operator'] },
      });
      expect(response.status).toBe(201);
    }
  });

  const list = (query: string) => sm.call('GET', `/v1/service_bindings?${query}`);
  const q = (name: string, value: string) => `${name}=${encodeURIComponent(value)}`;

  it('filters with fieldQuery (and, eq, ne, in)', async () => {
    const byName = await list(
      q('fieldQuery', `name eq 'list-3' and service_instance_id eq '${listInstance}'`),
    );
    expect(items(byName.body).map((item) => item.name)).toEqual(['list-3']);
    const notOne = await list(
      q('fieldQuery', `service_instance_id eq '${listInstance}' and name ne 'list-1'`),
    );
    expect(record(notOne.body).num_items).toBe(4);
    const some = await list(q('fieldQuery', `name in ('list-0', 'list-4', 'nope')`));
    expect(items(some.body).map((item) => item.name)).toEqual(['list-0', 'list-4']);
  });

  it('filters with labelQuery', async () => {
    const even = await list(q('labelQuery', "tier eq 'even' and owner eq 'btp-cert-operator'"));
    expect(items(even.body).map((item) => item.name)).toEqual(['list-0', 'list-2', 'list-4']);
    const combined = await list(
      `${q('labelQuery', "tier in ('odd')")}&${q('fieldQuery', "name ne 'list-1'")}`,
    );
    expect(items(combined.body).map((item) => item.name)).toEqual(['list-3']);
  });

  it('pages with max_items and token', async () => {
    const names: unknown[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const response = await list(
        `${q('fieldQuery', `service_instance_id eq '${listInstance}'`)}&max_items=2${token === undefined ? '' : `&token=${token}`}`,
      );
      expect(response.status).toBe(200);
      const body = record(response.body);
      expect(body.num_items).toBe(5);
      names.push(...items(body).map((item) => item.name));
      token = typeof body.token === 'string' ? body.token : undefined;
      pages += 1;
    } while (token !== undefined);
    expect(pages).toBe(3);
    expect(names).toEqual(['list-0', 'list-1', 'list-2', 'list-3', 'list-4']);
  });

  it.each([
    ["name = 'x'"],
    ["name eq 'unterminated"],
    ["name eq 'x' or name eq 'y'"],
    ["unknown_field eq 'x'"],
    ["name in 'x'"],
  ])('answers 400 for the malformed fieldQuery %s', async (query) => {
    const response = await list(q('fieldQuery', query));
    expect(response.status).toBe(400);
    expect(record(response.body).error).toBe('BadRequest');
  });

  it('answers 400 for a bad max_items or token', async () => {
    expect((await list('max_items=-1')).status).toBe(400);
    expect((await list('token=garbage')).status).toBe(400);
  });

  it('adds and removes labels and renames with PATCH', async () => {
    const [first] = items((await list(q('fieldQuery', "name eq 'list-0'"))).body);
    const id = text(first?.id);
    const patched = await sm.call('PATCH', `/v1/service_bindings/${id}`, {
      name: 'list-0-renamed',
      labels: [
        { op: 'add', key: 'rotation', values: ['current'] },
        { op: 'remove', key: 'tier', values: ['even'] },
        { op: 'add', key: 'owner', values: ['btp-cert-operator', 'someone'] },
      ],
    });
    expect(patched.status).toBe(200);
    expect(record(patched.body).name).toBe('list-0-renamed');
    expect(record(patched.body).labels).toEqual({
      owner: ['btp-cert-operator', 'someone'],
      rotation: ['current'],
    });
    const removed = await sm.call('PATCH', `/v1/service_bindings/${id}`, {
      labels: [{ op: 'remove', key: 'owner' }],
    });
    expect(record(removed.body).labels).toEqual({ rotation: ['current'] });
    const clash = await sm.call('PATCH', `/v1/service_bindings/${id}`, { name: 'list-1' });
    expect(clash.status).toBe(409);
    const badOp = await sm.call('PATCH', `/v1/service_bindings/${id}`, {
      labels: [{ op: 'replace', key: 'a' }],
    });
    expect(badOp.status).toBe(400);
  });

  it('deletes with 200 and answers 404 afterwards', async () => {
    const [item] = items((await list(q('fieldQuery', "name eq 'list-4'"))).body);
    const id = text(item?.id);
    expect((await sm.call('DELETE', `/v1/service_bindings/${id}`)).status).toBe(200);
    expect((await sm.call('GET', `/v1/service_bindings/${id}`)).status).toBe(404);
    expect((await sm.call('DELETE', `/v1/service_bindings/${id}`)).status).toBe(404);
    expect(sim.counters().liveBindingsByInstance[listInstance]).toBe(4);
  });
});

describe('instances, offerings and plans', () => {
  it('lists instances and reads one, with its plan and offering', async () => {
    const listed = await sm.call(
      'GET',
      `/v1/service_instances?fieldQuery=${encodeURIComponent("name eq 'xsuaa-application'")}`,
    );
    const [instance] = items(listed.body);
    expect(instance?.id).toBe(xsuaaId);
    const one = await sm.call('GET', `/v1/service_instances/${xsuaaId}`);
    const plan = await sm.call('GET', `/v1/service_plans/${text(record(one.body).service_plan_id)}`);
    expect(record(plan.body).name).toBe('application');
    const offering = await sm.call(
      'GET',
      `/v1/service_offerings/${text(record(plan.body).service_offering_id)}`,
    );
    expect(record(offering.body).name).toBe('xsuaa');
    expect((await sm.call('GET', '/v1/service_instances/unknown')).status).toBe(404);
  });
});

describe('rate limits per caller', () => {
  // Tiny limits of the documented shape (per minute and per hour, bindings and all): the hourly
  // limit answers 429 in a minute whose own limit is not reached.
  it.each([
    [
      '/v1/service_bindings',
      { allPerMinute: 100, allPerHour: 100, bindingsPerMinute: 3, bindingsPerHour: 5 },
    ],
    [
      '/v1/service_instances',
      { allPerMinute: 3, allPerHour: 5, bindingsPerMinute: 100, bindingsPerHour: 100 },
    ],
  ])('%s: 429 past the minute limit, and past the hour limit in a fresh minute', async (path, limits) => {
    const limitedClock = offsetClock();
    const limited = await startSimulator({ clock: limitedClock, keyPool: { size: 0 }, smRateLimits: limits });
    const caller = await smClient(limited);
    const statuses = async (n: number): Promise<number[]> => {
      const seen: number[] = [];
      for (let i = 0; i < n; i += 1) seen.push((await caller.call('GET', path)).status);
      return seen;
    };
    try {
      expect(await statuses(4)).toEqual([200, 200, 200, 429]);
      limitedClock.advance(61_000);
      expect(await statuses(3)).toEqual([200, 200, 429]);
      limitedClock.advance(3_600_000 - 61_000);
      expect(await statuses(1)).toEqual([200]);
    } finally {
      await caller.close();
      await limited.stop();
    }
  });
});
