// The controller survives what a real cluster does to it: the kube-apiserver restarts under it
// (its informers and watches must come back without a process restart). It runs on a control
// plane of its own, so the shared one is never restarted.
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Certificates, decoded } from '../support/btpcert.ts';
import { REPO_ROOT } from '../support/control-plane/binaries.ts';
import { ControlPlane } from '../support/control-plane/control-plane.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { installOperatorIdentity } from '../support/operator-identity.ts';

/** Credentials from the test PKI name hosts that do not exist: their token check is off here
 * (test/integration/token-check.test.ts proves it against the simulator). */
const NO_TOKEN_CHECK = { token: { check: false } } as const;

const HOUR = 3_600_000;
const credentials = () => bindingCredentials(24 * HOUR).fields;

let cp: ControlPlane;
let operator: RunningOperator;
let operatorToken: string;

beforeAll(async () => {
  cp = await ControlPlane.start({ binDir: inject('kubeBinDir') });
  await cp.installCRDs(join(REPO_ROOT, 'crds'));
  operatorToken = await installOperatorIdentity(cp.kubeConfig());
}, 120_000);
afterAll(async () => {
  await operator?.stop();
  await cp?.stop();
});

describe('controller resilience', () => {
  it('recovers from a kube-apiserver restart without a process restart', async () => {
    const kc = cp.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'resilience' } } });
    operator = startOperator(kc, { namespaces: ['resilience'], operatorToken });
    const certs = new Certificates(kc, 'resilience', NO_TOKEN_CHECK);
    const a = credentials();
    await core.createNamespacedSecret({
      namespace: 'resilience',
      body: { metadata: { name: 'src' }, stringData: a },
    });
    await certs.create('c', { secretName: 'tls', source: { secret: { name: 'src' } } });
    await certs.waitForCondition('c', 'Ready', { status: 'True' });

    await cp.restartApiServer();
    await waitFor(() => operator.controller.restarts > 0, { description: 'informers noticed the restart' });

    // Changes made after the restart reach the controller: a new BTPCertificate, new source data,
    // and a deleted target Secret.
    const b = credentials();
    await core.replaceNamespacedSecret({
      namespace: 'resilience',
      name: 'src',
      body: { metadata: { name: 'src' }, stringData: b },
    });
    await waitFor(async () => decoded(await certs.secret('tls'), 'tls.key') === b.key, {
      description: 'new source credentials written after the restart',
      timeoutMs: 120_000,
    });
    await certs.create('d', { secretName: 'tls-d', source: { secret: { name: 'src' } } });
    await certs.waitForCondition('d', 'Ready', { status: 'True' }, 120_000);
    await core.deleteNamespacedSecret({ namespace: 'resilience', name: 'tls-d' });
    await waitFor(async () => (await certs.secret('tls-d')) !== undefined, {
      description: 'deleted Secret restored after the restart',
      timeoutMs: 120_000,
    });
    expect(operator.controller.ready()).toBe(true);
  });
});
