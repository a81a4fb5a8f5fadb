// The operator as main.ts builds it reaches the Destination service: a destination source gets
// its certificate through the operator's own Destination clients (src/btp/port.ts
// destinationClients), against the real control plane and the simulator over real TLS, with
// either kind of access in the binding Secret.
import { X509Certificate } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { Certificates, decoded } from '../support/btpcert.ts';
import { kubeConfigFromFile, testNamespace } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'btpcert-dest-clients');

let sim: Simulator;
let operator: RunningOperator;
let certs: Certificates;

const asStrings = (fields: Readonly<Record<string, unknown>>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(fields).map(([key, value]) => [
      key,
      typeof value === 'string' ? value : JSON.stringify(value),
    ]),
  );

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 2 } });
  operator = startOperator(kc, { namespaces: [ns], btpCaPem: sim.caBundlePem });
  certs = new Certificates(kc, ns);
  for (const [name, fields] of [
    ['dest-secret', sim.destinationCredentials.secret],
    ['dest-x509', sim.destinationCredentials.x509],
  ] as const) {
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name }, stringData: asStrings(fields) },
    });
  }
});

afterAll(async () => {
  await operator?.stop();
  await sim?.stop();
});

describe('the operator reaches the Destination service through its own clients', () => {
  it.each([
    ['dest-secret', 'a client secret'],
    ['dest-x509', 'an x509 certificate'],
  ])('a stored PEM certificate becomes the TLS Secret (access with %s: %s)', async (access) => {
    const seeded = await sim.destinations.seedCertificate({ name: `${access}.pem` });
    await certs.create(access, {
      secretName: `tls-${access}`,
      source: {
        destination: {
          credentialsSecretRef: { name: access },
          certificateName: `${access}.pem`,
          level: 'Subaccount',
        },
      },
      // A stored certificate names no token endpoint; the destination below is token-checked.
      token: { check: false },
    });
    await certs.waitForCondition(access, 'Ready', { status: 'True' });
    const secret = await certs.secret(`tls-${access}`);
    const leaf = new X509Certificate(decoded(secret, 'tls.crt') ?? '');
    expect(leaf.fingerprint256).toBe(seeded.fingerprint256);
    expect(sim.counters().requests['destination.getCertificate']?.['200']).toBeGreaterThan(0);
  });

  it("a destination's P12 keystore, proven by a token from the other tenant's XSUAA", async () => {
    const seeded = await sim.destinations.seedCertificate({ name: 'alm.p12', password: 'keystore-pw' });
    sim.destinations.putDestination({
      Name: 'alm',
      Type: 'HTTP',
      URL: 'https://alm.example/api',
      Authentication: 'OAuth2ClientCredentials',
      tokenServiceURL: `${sim.otherTenant.certurl}/oauth/token`,
      clientId: 'alm-client',
      KeyStoreLocation: 'alm.p12',
      KeyStorePassword: 'keystore-pw',
    });
    await certs.create('alm', {
      secretName: 'tls-alm',
      source: { destination: { credentialsSecretRef: { name: 'dest-x509' }, destinationName: 'alm' } },
    });
    await certs.waitForCondition('alm', 'Ready', { status: 'True' });
    const secret = await certs.secret('tls-alm');
    expect(new X509Certificate(decoded(secret, 'tls.crt') ?? '').fingerprint256).toBe(seeded.fingerprint256);
    expect(sim.counters().requests['otherXsuaa.certToken']?.['200']).toBeGreaterThan(0);
  });
});
