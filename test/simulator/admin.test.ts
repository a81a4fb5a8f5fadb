import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { createX509Binding, postForm, record, type SmClient, smClient, text } from './helpers.ts';

let sim: Simulator;
let sm: SmClient;

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 2 } });
  sm = await smClient(sim);
});

afterAll(async () => {
  await sm.close();
  await sim.stop();
});

async function admin(
  baseUrl: string,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await request(`${baseUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const textBody = await response.body.text();
  return { status: response.statusCode, body: textBody === '' ? undefined : JSON.parse(textBody) };
}

describe('admin API', () => {
  it('serves the state another process needs: urls, CA bundle, SM credentials, instances', async () => {
    const state = record((await admin(sim.adminUrl, 'GET', '/state')).body);
    expect(state).toMatchObject({ smUrl: sim.smUrl, xsuaaUrl: sim.xsuaaUrl, xsuaaCertUrl: sim.xsuaaCertUrl });
    expect(state.caBundlePem).toBe(sim.caBundlePem);
    expect(record(record(state.smCredentials).secret).clientid).toBe(sim.smCredentials.secret.clientid);
  });

  it('injects, lists and clears faults; bad faults are a 400', async () => {
    const created = await admin(sim.adminUrl, 'POST', '/faults', [
      { kind: 'status', route: 'sm.listBindings', status: 500, times: 1 },
      { kind: 'credential', defect: 'expired', times: 1 },
    ]);
    expect(created.status).toBe(201);
    expect(record(created.body).ids).toHaveLength(2);
    expect((await admin(sim.adminUrl, 'GET', '/faults')).body).toHaveLength(2);
    expect((await sm.call('GET', '/v1/service_bindings')).status).toBe(500);
    expect((await admin(sim.adminUrl, 'GET', '/faults')).body).toHaveLength(1);
    expect((await admin(sim.adminUrl, 'DELETE', '/faults')).status).toBe(204);
    expect((await admin(sim.adminUrl, 'GET', '/faults')).body).toEqual([]);
    const bad = await admin(sim.adminUrl, 'POST', '/faults', { kind: 'status', route: 'sm.listBindings' });
    expect(bad.status).toBe(400);
    expect(record(bad.body).description).toBeTypeOf('string');
  });

  it('reports counters and resets them', async () => {
    await sm.call('GET', '/v1/service_instances');
    const counters = record((await admin(sim.adminUrl, 'GET', '/counters')).body);
    expect(record(record(counters.requests)['sm.listInstances'])['200']).toBeGreaterThanOrEqual(1);
    expect(record(counters.handshakes).sm).toBeGreaterThanOrEqual(1);
    expect((await admin(sim.adminUrl, 'POST', '/counters/reset')).status).toBe(204);
    expect(record((await admin(sim.adminUrl, 'GET', '/counters')).body).requests).toEqual({});
  });

  it('lists bindings without key material and deletes one out of band, revoking its certificate', async () => {
    const binding = await createX509Binding(sm, sim.instance('xsuaa-application').id, 'admin-visible');
    const listed = await admin(sim.adminUrl, 'GET', '/bindings');
    expect(JSON.stringify(listed.body)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(listed.body)).not.toContain('BEGIN CERTIFICATE');
    const summary = (listed.body as unknown[]).map(record).find((item) => item.id === binding.id);
    expect(summary).toMatchObject({ name: 'admin-visible', credentialType: 'x509', phase: 'ready' });

    expect((await admin(sim.adminUrl, 'DELETE', `/bindings/${binding.id}`)).status).toBe(204);
    expect((await admin(sim.adminUrl, 'DELETE', `/bindings/${binding.id}`)).status).toBe(404);
    expect((await sm.call('GET', `/v1/service_bindings/${binding.id}`)).status).toBe(404);
    const agent = new Agent({ connect: { ca: sim.caBundlePem, ...binding.certificate } });
    const token = await postForm(agent, `${sim.xsuaaCertUrl}/oauth/token`, {
      grant_type: 'client_credentials',
      client_id: text(binding.credentials.clientid),
    });
    await agent.close();
    expect(token.status).toBe(401);
  });

  it('changes settings at run time', async () => {
    const instanceId = sim.instance('xsuaa-application').id;
    /** Seconds from notBefore to notAfter of the leaf of a new x509 binding asking for 7 days. */
    const issuedLifetimeSeconds = async (name: string): Promise<number> => {
      const leaf = new X509Certificate((await createX509Binding(sm, instanceId, name)).certificate.cert);
      return (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 1000;
    };
    expect(await issuedLifetimeSeconds('before-settings')).toBe(7 * 86_400);

    const patched = await admin(sim.adminUrl, 'PATCH', '/settings', {
      lifetimeOverrideSeconds: 30,
      async: { create: true, polls: 1 },
    });
    expect(patched.body).toMatchObject({ lifetimeOverrideSeconds: 30, async: { create: true, polls: 1 } });
    const created = await sm.call('POST', '/v1/service_bindings', {
      name: 'after-settings',
      service_instance_id: instanceId,
    });
    expect(created.status).toBe(202);

    await admin(sim.adminUrl, 'PATCH', '/settings', { async: { create: false } });
    expect(await issuedLifetimeSeconds('with-lifetime-override')).toBe(30);

    await admin(sim.adminUrl, 'PATCH', '/settings', { lifetimeOverrideSeconds: null });
    expect(await issuedLifetimeSeconds('override-cleared')).toBe(7 * 86_400);
    expect((await admin(sim.adminUrl, 'PATCH', '/settings', { lifetimeOverrideSeconds: -1 })).status).toBe(
      400,
    );
  });

  it('issues further x509 SM access credentials', async () => {
    const issued = await admin(sim.adminUrl, 'POST', '/sm-credentials/x509', { validitySeconds: 60 });
    expect(issued.status).toBe(201);
    const credentials = record(issued.body);
    expect(text(credentials.certificate)).toContain('BEGIN CERTIFICATE');
    expect(credentials.clientid).not.toBe(sim.smCredentials.x509.clientid);
  });

  it('sets up the Destination service: seeded keystores, destinations, keystore faults, auto-renewal, request bodies', async () => {
    const seeded = record(
      (
        await admin(sim.adminUrl, 'POST', '/destination-service/certificates', {
          name: 'admin.p12',
          password: 'pw',
          validitySeconds: 3600,
        })
      ).body,
    );
    expect(seeded).toMatchObject({ name: 'admin.p12', password: 'pw' });
    expect(new X509Certificate(text(seeded.chainPem)).fingerprint256).toBe(seeded.fingerprint256);
    const listed = (await admin(sim.adminUrl, 'GET', '/destination-service/certificates')).body as Record<
      string,
      unknown
    >[];
    expect(listed.find((file) => file.name === 'admin.p12')).toMatchObject({
      level: 'subaccount',
      generated: false,
    });
    expect(JSON.stringify(listed)).not.toContain(text(seeded.content).slice(0, 60));

    const destination = { Name: 'admin-dest', URL: 'https://x.example', KeyStoreLocation: 'admin.p12' };
    expect(
      (await admin(sim.adminUrl, 'POST', '/destination-service/destinations', { configuration: destination }))
        .status,
    ).toBe(204);
    const bad = await admin(sim.adminUrl, 'POST', '/destination-service/destinations', {
      configuration: { Name: 'x', Port: 443 },
    });
    expect(bad.status).toBe(400);
    const fault = await admin(sim.adminUrl, 'POST', '/faults', {
      kind: 'keystore',
      defect: 'missingCertificate',
      certificate: 'admin.p12',
    });
    expect(fault.status).toBe(201);
    expect(
      (await admin(sim.adminUrl, 'PATCH', '/settings', { destinationAutoRenew: false })).body,
    ).toMatchObject({ destinationAutoRenew: false });
    await admin(sim.adminUrl, 'PATCH', '/settings', { destinationAutoRenew: true });
    await admin(sim.adminUrl, 'DELETE', '/faults');
    expect((await admin(sim.adminUrl, 'DELETE', '/destination-service/destinations/admin-dest')).status).toBe(
      204,
    );
    expect((await admin(sim.adminUrl, 'DELETE', '/destination-service/destinations/admin-dest')).status).toBe(
      404,
    );

    const marker = 'grant_type=client_credentials';
    const { url, clientid, clientsecret } = sim.smCredentials.secret;
    await postForm(new Agent({ connect: { ca: sim.caBundlePem } }), `${url}/oauth/token`, {
      grant_type: 'client_credentials',
      client_id: clientid,
      client_secret: clientsecret,
    });
    const bodies = (await admin(sim.adminUrl, 'GET', '/request-bodies')).body as Record<string, unknown>[];
    expect(bodies.some((entry) => entry.route === 'xsuaa.token' && text(entry.body).includes(marker))).toBe(
      true,
    );
  });

  it('answers 404 for unknown admin routes', async () => {
    expect((await admin(sim.adminUrl, 'GET', '/nope')).status).toBe(404);
  });
});

describe('cli', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'btp-simulator-cli-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('starts from a config file, writes the state file, and stops cleanly on SIGTERM', async () => {
    const configPath = join(directory, 'config.json');
    const statePath = join(directory, 'state.json');
    await writeFile(
      configPath,
      JSON.stringify({ instances: [{ name: 'cli-xsuaa', offering: 'xsuaa' }], keyPool: { size: 1 } }),
    );
    const child = spawn(
      process.execPath,
      [
        'test/support/btp-simulator/cli.ts',
        '--config',
        configPath,
        '--state-file',
        statePath,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while ((await stat(statePath).catch(() => undefined)) === undefined) {
        if (Date.now() > deadline) throw new Error('no state file');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const state = record(JSON.parse(await readFile(statePath, 'utf8')));
      expect((await stat(statePath)).mode & 0o777).toBe(0o600);
      expect(await readFile(text(state.caBundlePath), 'utf8')).toContain('BEGIN CERTIFICATE');
      expect(state.instances).toEqual([expect.objectContaining({ name: 'cli-xsuaa', offering: 'xsuaa' })]);
      const kyma = record(record(state.kymaSecretData).x509);
      expect(Object.keys(kyma).sort()).toEqual([
        'clientid',
        'sm_url',
        'tls.crt',
        'tls.key',
        'tokenurl',
        'tokenurlsuffix',
      ]);
      const served = record((await admin(text(state.adminUrl), 'GET', '/state')).body);
      expect(served.smUrl).toBe(state.smUrl);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(await stat(statePath).catch(() => 'gone')).toBe('gone');
  });
});
