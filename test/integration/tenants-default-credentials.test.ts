// The operator-wide default Service Manager credentials serve only whom the administrator's policy
// names, for the instances it names, and a BTPCertificate holds a bounded number of bindings
// (issue 10, point 4). With them shared by two tenants, a binding ID that one tenant's own Service
// Manager put into its status is neither read nor deleted through the shared credentials (point 1).
import { createHash } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseDefaultCredentialsPolicy } from '../../src/certificate/default-credentials-policy.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../support/btp-simulator/sm-credentials.ts';
import { Certificates, decoded } from '../support/btpcert.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const opsNs = testNamespace(kc, 'dc-ops');
const allowedNs = testNamespace(kc, 'dc-allowed');
const refusedNs = testNamespace(kc, 'dc-refused');
const attackerNs = testNamespace(kc, 'dc-attacker');
const INSTANCE = 'xsuaa-application';

let sim: Simulator;
let attackerSim: Simulator;
let operator: RunningOperator;

const x509 = { keyLength: 2048 as const, validity: 1, validityType: 'DAYS' as const };
const defaultSource = (instance: string = INSTANCE) => ({
  serviceManager: { serviceInstanceName: instance, x509 },
});
/** Bindings the simulator created for a BTPCertificate, by its deterministic names. */
const createdFor = (s: Simulator, uid: string) =>
  Object.entries(s.counters().bindingsCreatedByName)
    .filter(([name]) => name.startsWith(`btpcert-${uid}-`))
    .reduce((n, [, count]) => n + count, 0);
const digest = (text: string | undefined) =>
  text === undefined ? undefined : createHash('sha256').update(text).digest('hex');

beforeAll(async () => {
  [sim, attackerSim] = await Promise.all([
    startSimulator({ keyPool: { size: 8 } }),
    startSimulator({ keyPool: { size: 4 } }),
  ]);
  await core.createNamespacedSecret({
    namespace: opsNs,
    body: { metadata: { name: 'default-sm' }, stringData: kymaSecretData(sim.smCredentials.x509) },
  });
  await core.createNamespacedSecret({
    namespace: attackerNs,
    body: { metadata: { name: 'own-sm' }, stringData: kymaSecretData(attackerSim.smCredentials.x509) },
  });
  const policy = parseDefaultCredentialsPolicy(
    JSON.stringify({
      namespaces: {
        [allowedNs]: { instanceNames: [INSTANCE] },
        [attackerNs]: { instanceNames: [INSTANCE] },
      },
    }),
  );
  if (!policy.ok) throw new Error(policy.error);
  operator = startOperator(kc, {
    namespaces: [allowedNs, refusedNs, attackerNs],
    btpCaPem: sim.caBundlePem + attackerSim.caBundlePem,
    defaultSmCredentials: { namespace: opsNs, name: 'default-sm' },
    defaultSmCredentialsPolicy: policy.policy,
    maxBindingsPerCertificate: 2,
  });
});
afterAll(async () => {
  await operator?.stop();
  await Promise.all([sim?.stop(), attackerSim?.stop()]);
});

describe('the default Service Manager credentials policy', () => {
  it('refuses a namespace that is not in the policy: a reason, an Event, nothing in BTP', async () => {
    const certs = new Certificates(kc, refusedNs);
    const created = await certs.create('outsider', { secretName: 'outsider-tls', source: defaultSource() });
    const cert = await certs.waitForCondition('outsider', 'Ready', {
      status: 'False',
      reason: 'DefaultCredentialsNotAllowed',
    });
    const message = `namespace ${refusedNs} may not bind service instance ${INSTANCE} with the operator's default Service Manager credentials: the namespace is not in the operator's policy`;
    expect(cert.status?.conditions?.find((c) => c.type === 'Ready')?.message).toBe(message);
    expect(cert.status?.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('True');
    await waitFor(
      async () =>
        (await certs.events('outsider')).some(
          (e) => e.type === 'Warning' && e.reason === 'DefaultCredentialsNotAllowed' && e.message === message,
        ),
      { description: 'a DefaultCredentialsNotAllowed Event' },
    );
    expect(createdFor(sim, created.metadata.uid)).toBe(0);
    expect(await certs.secret('outsider-tls')).toBeUndefined();
  });

  it('serves a namespace in the policy, for its instance only', async () => {
    const certs = new Certificates(kc, allowedNs);
    const allowed = await certs.create('insider', { secretName: 'insider-tls', source: defaultSource() });
    const other = await certs.create('elsewhere', {
      secretName: 'elsewhere-tls',
      source: defaultSource('destination-lite'),
    });
    await certs.waitForCondition('insider', 'Ready', { status: 'True', reason: 'Issued' });
    const refused = await certs.waitForCondition('elsewhere', 'Ready', {
      status: 'False',
      reason: 'DefaultCredentialsNotAllowed',
    });
    expect(refused.status?.conditions?.find((c) => c.type === 'Ready')?.message).toBe(
      `namespace ${allowedNs} may not bind service instance destination-lite with the operator's default Service Manager credentials: the operator's policy does not list it for this namespace`,
    );
    expect(createdFor(sim, allowed.metadata.uid)).toBe(1);
    expect(createdFor(sim, other.metadata.uid)).toBe(0);
  });

  it('creates no binding past the limit of live bindings (current + retired)', async () => {
    const certs = new Certificates(kc, allowedNs);
    const created = await certs.create('limited', { secretName: 'limited-tls', source: defaultSource() });
    const first = await certs.waitForCondition('limited', 'Ready', { status: 'True', reason: 'Issued' });
    await certs.annotate('limited', { 'btpcerts.io/renew-requested-at': 'one' });
    await waitFor(async () => (await certs.get('limited')).status?.binding?.revision === 2, {
      description: 'the second binding is current',
    });
    const second = await certs.get('limited');
    expect(second.status?.retiredBindings?.map((r) => r.id)).toEqual([first.status?.binding?.id]);

    // Current + one retired = 2 = the limit: the next request is refused before a create.
    await certs.annotate('limited', { 'btpcerts.io/renew-requested-at': 'two' });
    const refused = await certs.waitForCondition('limited', 'Renewal', {
      status: 'False',
      reason: 'BindingLimitReached',
    });
    expect(refused.status?.conditions?.find((c) => c.type === 'Renewal')?.message).toContain(
      'the BTPCertificate has 2 live bindings (current, retired or left over); at most 2 are allowed',
    );
    expect(refused.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(refused.status?.binding).toEqual(second.status?.binding);
    expect(createdFor(sim, created.metadata.uid)).toBe(2);
    expect(sim.counters().bindingsCreatedByName[`btpcert-${created.metadata.uid}-r3`]).toBeUndefined();
  });
});

describe('a binding ID from a tenant’s own Service Manager, then the shared default credentials', () => {
  it("neither reads nor deletes the other tenant's binding through them", async () => {
    const victims = new Certificates(kc, allowedNs);
    await victims.create('shared-victim', { secretName: 'shared-victim-tls', source: defaultSource() });
    const victim = await victims.waitForCondition('shared-victim', 'Ready', { status: 'True' });
    const victimId = victim.status?.binding?.id ?? '';
    const victimKey = digest(decoded(await victims.secret('shared-victim-tls'), 'tls.key'));

    // The attacker's own Service Manager answers with the victim's binding ID...
    const attackers = new Certificates(kc, attackerNs);
    attackerSim.answerWithBindingIds([victimId]);
    await attackers.create('switcher', {
      secretName: 'switcher-tls',
      source: {
        serviceManager: { ...defaultSource().serviceManager, credentialsSecretRef: { name: 'own-sm' } },
      },
    });
    const recorded = await attackers.waitForCondition('switcher', 'Ready', { status: 'True' });
    expect(recorded.status?.binding?.id).toBe(victimId);

    // ...and then the attacker's certificate moves to the default credentials, which the victim uses.
    await attackers.patchSpec('switcher', {
      source: { serviceManager: { ...defaultSource().serviceManager, credentialsSecretRef: null } },
    } as never);
    const refused = await attackers.waitForCondition('switcher', 'Ready', {
      status: 'False',
      reason: 'BindingNotOwned',
    });
    expect(refused.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      `binding ${victimId} does not carry the label btpcerts.io/certificate-uid=${recorded.metadata.uid}`,
    );
    expect(digest(decoded(await attackers.secret('switcher-tls'), 'tls.key'))).not.toBe(victimKey);

    // Deleting the attacker's certificate deletes nothing of the victim's.
    await attackers.deleteAndWait('switcher');
    expect(sim.bindings().find((b) => b.id === victimId)?.phase).toBe('ready');
    expect(sim.counters().bindingDeletedAt[victimId]).toBeUndefined();
    const after = await victims.get('shared-victim');
    expect(after.status?.binding?.id).toBe(victimId);
    expect(digest(decoded(await victims.secret('shared-victim-tls'), 'tls.key'))).toBe(victimKey);
  });
});
