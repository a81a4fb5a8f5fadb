// A tenant who names its own Service Manager cannot reach another tenant's bindings (issue 10,
// point 1). The attacker's access Secret points at a second simulator, the attacker's own Service
// Manager, which answers with the victim's binding ID (shown in the victim's status.binding). The
// operator kept binding credentials by binding ID alone: the attacker's answer replaced the
// victim's credentials in that cache (the victim's Secret was rewritten with the attacker's
// certificate), and a later read through the attacker's certificate served the victim's key.
import { createHash } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../support/btp-simulator/sm-credentials.ts';
import { Certificates, decoded, smSource } from '../support/btpcert.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { reconciledAfter } from '../support/reconciled.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const victimNs = testNamespace(kc, 'sm-victim');
const attackerNs = testNamespace(kc, 'sm-attacker');
const UID_LABEL = 'btpcerts.io/certificate-uid';
const POKE = 'test.btpcerts.io/poke';

let victimSim: Simulator;
let attackerSim: Simulator;
let operator: RunningOperator;
let victims: Certificates;
let attackers: Certificates;

const liveIn = (sim: Simulator, uid: string) =>
  sim
    .bindings()
    .filter((b) => b.phase === 'ready' && b.labels[UID_LABEL]?.includes(uid))
    .map((b) => b.id);

/** Keys are compared by digest: a failing assertion shows no key. */
const digest = (text: string | undefined) =>
  text === undefined ? undefined : createHash('sha256').update(text).digest('hex');

let pokes = 0;
/** Wakes a BTPCertificate and waits until the operator has reconciled it since. */
async function poke(certs: Certificates, name: string): Promise<void> {
  const value = String(++pokes);
  await certs.annotate(name, { [POKE]: value });
  await reconciledAfter(
    operator,
    certs.namespace,
    name,
    (cached) =>
      (cached as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[POKE] ===
      value,
    `${certs.namespace}/${name} poked (${value})`,
  );
}

/** What a victim has that the attack must leave alone. */
async function snapshot(name: string) {
  const cert = await victims.get(name);
  const secret = await victims.secret(`${name}-tls`);
  return {
    binding: cert.status?.binding,
    fingerprint: cert.status?.sha256Fingerprint,
    crt: digest(decoded(secret, 'tls.crt')),
    key: digest(decoded(secret, 'tls.key')),
    live: liveIn(victimSim, cert.metadata.uid),
  };
}

beforeAll(async () => {
  [victimSim, attackerSim] = await Promise.all([
    startSimulator({ keyPool: { size: 8 } }),
    startSimulator({ keyPool: { size: 8 } }),
  ]);
  for (const [namespace, sim] of [
    [victimNs, victimSim],
    [attackerNs, attackerSim],
  ] as const) {
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'sm-access' }, stringData: kymaSecretData(sim.smCredentials.x509) },
    });
  }
  operator = startOperator(kc, {
    namespaces: [victimNs, attackerNs],
    btpCaPem: victimSim.caBundlePem + attackerSim.caBundlePem,
  });
  victims = new Certificates(kc, victimNs);
  attackers = new Certificates(kc, attackerNs);
});
afterAll(async () => {
  await operator?.stop();
  await Promise.all([victimSim?.stop(), attackerSim?.stop()]);
});

describe("a tenant's own Service Manager answering with another tenant's binding ID", () => {
  it("does not rewrite the victim's Secret with the attacker's credentials", async () => {
    await victims.create('poisoned', { secretName: 'poisoned-tls', source: smSource() });
    await victims.waitForCondition('poisoned', 'Ready', { status: 'True', reason: 'Issued' });
    const before = await snapshot('poisoned');
    expect(before.binding).toBeDefined();

    attackerSim.answerWithBindingIds([before.binding?.id ?? '']);
    await attackers.create('poisoner', { secretName: 'poisoner-tls', source: smSource() });
    const attacker = await attackers.waitForCondition('poisoner', 'Ready', { status: 'True' });
    // The attacker's Service Manager did answer with the victim's binding ID.
    expect(attacker.status?.binding?.id).toBe(before.binding?.id);

    await poke(victims, 'poisoned');
    expect(await snapshot('poisoned')).toEqual(before);
    const ready = (await victims.get('poisoned')).status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'True', reason: 'Issued' });
  });

  it("never serves the victim's key to the attacker's certificate", async () => {
    await victims.create('robbed', { secretName: 'robbed-tls', source: smSource() });
    await victims.waitForCondition('robbed', 'Ready', { status: 'True', reason: 'Issued' });
    const before = await snapshot('robbed');
    const victimId = before.binding?.id ?? '';

    // First revision: the victim's ID, with the attacker's own x509 credentials.
    attackerSim.answerWithBindingIds([victimId]);
    await attackers.create('robber', { secretName: 'robber-tls', source: smSource() });
    const first = await attackers.waitForCondition('robber', 'Ready', { status: 'True' });
    expect(first.status?.binding?.id).toBe(victimId);

    // Second revision, asked for by the attacker: the victim's ID again, now with client-secret
    // credentials, which the operator deletes at once (and so forgot what it kept for that ID).
    attackerSim.removeBinding(victimId);
    attackerSim.answerWithBindingIds([victimId]);
    await attackers.patchSpec('robber', { source: smSource({ parametersLocation: 'XSUAA' }) });
    await attackers.annotate('robber', { 'btpcerts.io/renew-requested-at': '2026-01-01T00:00:00Z' });
    await attackers.waitForCondition('robber', 'Ready', { status: 'False', reason: 'NotX509Credentials' });

    // The victim reads its binding again; then the attacker's certificate, backing off, serves
    // what it holds for its current binding (the victim's ID).
    await poke(victims, 'robbed');
    await poke(attackers, 'robber');

    const stolen = await attackers.secret('robber-tls');
    expect(decoded(stolen, 'tls.key')).toBeDefined();
    expect(digest(decoded(stolen, 'tls.key'))).not.toBe(before.key);
    expect(await snapshot('robbed')).toEqual(before);
  });
});

describe('a tenant that strips the finalizer and deletes its certificate (review S2)', () => {
  it('leaves nothing of it in the operator: no credentials, no client', async () => {
    await attackers.create('stripped', { secretName: 'stripped-tls', source: smSource() });
    const issued = await attackers.waitForCondition('stripped', 'Ready', {
      status: 'True',
      reason: 'Issued',
    });
    const uid = issued.metadata.uid;
    expect(operator.controller.holdsServiceManagerState(uid)).toBe(true);

    // The finalizer goes, and with the source switched to a Secret the operator has no reason to
    // put it back before the delete: the object goes without the finalizer ever running.
    await attackers.patch('stripped', {
      metadata: { finalizers: null },
      spec: { source: { serviceManager: null, secret: { name: 'absent' } } },
    });
    await attackers.deleteAndWait('stripped');
    // Its binding is still live in BTP: the finalizer (which deletes it) did not run.
    expect(liveIn(attackerSim, uid)).toHaveLength(1);

    await waitFor(async () => !operator.controller.holdsServiceManagerState(uid), {
      timeoutMs: 60_000,
      description: `no Service Manager state kept for ${uid}`,
    });
  });
});
