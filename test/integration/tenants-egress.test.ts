// A tenant cannot make the operator connect anywhere (issue 10, point 6). Every URL the operator
// sends a request to comes from a namespace user: spec.token.url, the credentials' certurl, the
// Service Manager access Secret's sm_url and tokenurl. Here the operator may reach the simulator's
// ports only (--allowed-hosts `127.0.0.1:<port>` for each, the same mechanism as in production); two
// listening servers stand for what a tenant would probe, one on another port of 127.0.0.1 and one on
// 127.0.0.2. Each URL naming them gets HostNotAllowed with a Warning Event, and they count every
// connection they accept: none, after the operator has answered every attempt.

import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { CoreV1Api, loadYaml, NetworkingV1Api, type V1NetworkPolicy } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createX509Binding, smClient } from '../simulator/helpers.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../support/btp-simulator/sm-credentials.ts';
import { Certificates } from '../support/btpcert.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'tenant-egress');

type Trap = { readonly server: Server; readonly port: number; readonly accepted: Socket[] };

/** A TCP server that only counts (and holds) the connections it accepts. */
async function trap(host: string): Promise<Trap> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, accepted };
}

let sim: Simulator;
let operator: RunningOperator;
let certs: Certificates;
let sameHost: Trap;
let otherHost: Trap;

beforeAll(async () => {
  sim = await startSimulator();
  sameHost = await trap('127.0.0.1');
  otherHost = await trap('127.0.0.2');
  const simPorts = [sim.smUrl, sim.xsuaaUrl, sim.xsuaaCertUrl].map((u) => `127.0.0.1:${new URL(u).port}`);
  operator = startOperator(kc, {
    namespaces: [ns],
    btpCaPem: sim.caBundlePem,
    allowedHosts: simPorts.join(','),
  });
  certs = new Certificates(kc, ns);
});
afterAll(async () => {
  await operator?.stop();
  await sim?.stop();
  for (const t of [sameHost, otherHost]) {
    for (const socket of t?.accepted ?? []) socket.destroy();
    t?.server.close();
  }
});

/** The fields of a fresh x509 binding of the simulator, as a Secret source holds them. */
async function bindingFields(name: string): Promise<Record<string, string>> {
  const sm = await smClient(sim);
  const b = await createX509Binding(sm, sim.instance('xsuaa-application').id, name).finally(() => sm.close());
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.credentials))
    fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return fields;
}

async function secret(name: string, stringData: Record<string, string>): Promise<void> {
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData } });
}

async function warned(name: string, reason: string): Promise<void> {
  await waitFor(
    async () => (await certs.events(name)).some((e) => e.type === 'Warning' && e.reason === reason),
    { description: `${reason} event of ${name}` },
  );
}

const conditionOf = (cert: Awaited<ReturnType<Certificates['get']>>, type: string) =>
  cert.status?.conditions?.find((c) => c.type === type);

describe('egress of a tenant', () => {
  it('reaches no host or port outside --allowed-hosts: HostNotAllowed, an Event, no connection', async () => {
    const secretInUrl = 'do-not-show-me';
    // The token URL: spec.token.url on another port of an allowed address, with a path (the CRD
    // allows no user part and no query: a URL with those is refused before any host is looked at).
    await secret('token-url-src', await bindingFields('egress-token-url'));
    await certs.create('token-url', {
      secretName: 'token-url-tls',
      source: { secret: { name: 'token-url-src' } },
      token: { url: `https://127.0.0.1:${sameHost.port}/${secretInUrl}/oauth/token` },
    });
    // The credentials' certurl on another address.
    await secret('certurl-src', {
      ...(await bindingFields('egress-certurl')),
      certurl: `https://127.0.0.2:${otherHost.port}`,
    });
    await certs.create('certurl', { secretName: 'certurl-tls', source: { secret: { name: 'certurl-src' } } });
    // A Service Manager access Secret whose sm_url, then whose tokenurl, names a trap.
    const access = kymaSecretData(sim.smCredentials.x509);
    await secret('sm-url-access', { ...access, sm_url: `https://127.0.0.1:${sameHost.port}` });
    await secret('token-url-access', { ...access, tokenurl: `https://127.0.0.2:${otherHost.port}` });
    for (const name of ['sm-url', 'token-url-sm'])
      await certs.create(name, {
        secretName: `${name}-tls`,
        source: {
          serviceManager: {
            credentialsSecretRef: { name: name === 'sm-url' ? 'sm-url-access' : 'token-url-access' },
            serviceInstanceName: 'xsuaa-application',
            x509: { validity: 1 },
          },
        },
      });
    // And a tenant that stays on the simulator: it works.
    await secret('fine-src', await bindingFields('egress-fine'));
    await certs.create('fine', { secretName: 'fine-tls', source: { secret: { name: 'fine-src' } } });

    const [tokenUrl, certurl, smUrl, smTokenUrl] = await Promise.all([
      certs.waitForCondition('token-url', 'TokenReady', { status: 'False', reason: 'HostNotAllowed' }),
      certs.waitForCondition('certurl', 'TokenReady', { status: 'False', reason: 'HostNotAllowed' }),
      certs.waitForCondition('sm-url', 'Ready', { status: 'False', reason: 'HostNotAllowed' }),
      certs.waitForCondition('token-url-sm', 'Ready', { status: 'False', reason: 'HostNotAllowed' }),
      certs.waitForCondition('fine', 'TokenReady', { status: 'True', reason: 'TokenIssued' }),
    ]);
    for (const name of ['token-url', 'certurl', 'sm-url', 'token-url-sm'])
      await warned(name, 'HostNotAllowed');

    // The message names the host and port and the flag, nothing else of the URL.
    const tokenMessage = conditionOf(tokenUrl, 'TokenReady')?.message ?? '';
    expect(tokenMessage).toContain(
      `host 127.0.0.1:${sameHost.port} is not in the operator's --allowed-hosts`,
    );
    expect(tokenMessage).not.toContain(secretInUrl);
    expect(tokenMessage).not.toContain('/oauth/token');
    expect(conditionOf(certurl, 'TokenReady')?.message).toContain(`host 127.0.0.2:${otherHost.port}`);
    expect(conditionOf(smUrl, 'Ready')?.message).toContain(
      `host 127.0.0.1:${sameHost.port} is not in the operator's --allowed-hosts`,
    );
    expect(conditionOf(smTokenUrl, 'Ready')?.message).toContain(`host 127.0.0.2:${otherHost.port}`);
    // It needs a change of the URL or of the flag, not a retry.
    for (const cert of [tokenUrl, smUrl])
      expect(conditionOf(cert, 'Stalled')).toMatchObject({ status: 'True', reason: 'HostNotAllowed' });
    for (const event of await certs.events('token-url')) expect(event.message).not.toContain(secretInUrl);

    // Every attempt was answered (the conditions above); not one reached a trap.
    expect(sameHost.accepted.length).toBe(0);
    expect(otherHost.accepted.length).toBe(0);
  });

  it('a certurl with a password in its user part is refused, not shown, and not connected to', async () => {
    // The CRD refuses a user part in spec.token.url; a certurl in a source Secret is the tenant's
    // text, checked only by the operator.
    const secretInUrl = 'SECRET-in-certurl';
    await secret('userinfo-src', {
      ...(await bindingFields('egress-userinfo')),
      certurl: `https://u:${secretInUrl}@127.0.0.2:${otherHost.port}`,
    });
    await certs.create('userinfo', {
      secretName: 'userinfo-tls',
      source: { secret: { name: 'userinfo-src' } },
    });
    const cert = await certs.waitForCondition('userinfo', 'TokenReady', {
      status: 'False',
      reason: 'NoTokenEndpoint',
    });
    await warned('userinfo', 'NoTokenEndpoint');

    expect(conditionOf(cert, 'TokenReady')?.message).toContain('it is not shown');
    expect(JSON.stringify(cert.status)).not.toContain(secretInUrl);
    for (const event of await certs.events('userinfo')) expect(event.message).not.toContain(secretInUrl);
    // The check was answered (above) without a connection to the host the URL names.
    expect(otherHost.accepted.length).toBe(0);
  });

  it('the optional NetworkPolicy component is accepted by the API server', async () => {
    const file = new URL('../../deploy/components/network-policy/networkpolicy.yaml', import.meta.url);
    const policy = loadYaml<V1NetworkPolicy>(readFileSync(file, 'utf8'));
    const created = await kc.makeApiClient(NetworkingV1Api).createNamespacedNetworkPolicy({
      namespace: ns,
      body: { ...policy, metadata: { ...policy.metadata, namespace: ns } },
      dryRun: 'All',
    });
    expect(created.spec?.policyTypes).toEqual(['Egress']);
    expect(created.spec?.egress?.flatMap((rule) => rule.ports?.map((p) => p.port))).toEqual([
      53, 53, 6443, 443,
    ]);
  });
});
