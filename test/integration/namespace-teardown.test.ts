// Issue 8, defect 3: deleting a namespace leaked every BTP binding of its serviceManager
// certificates. The namespace controller deletes the Service Manager access Secret together with
// the BTPCertificates, and their finalizers then had no credentials to delete the bindings with.
// These tests delete real namespaces (kube-controller-manager's namespace controller) and count
// what is left in the BTP simulator.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BTPCertificate } from '../../src/api/types.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../support/btp-simulator/sm-credentials.ts';
import { Certificates } from '../support/btpcert.ts';
import { createNamespace, isGone, kubeConfigFromFile, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const IN_USE = 'btpcerts.io/in-use';
const UID_LABEL = 'btpcerts.io/certificate-uid';
/** Deleting a namespace takes the namespace controller a while, more so on a busy machine. */
const TEARDOWN_MS = 240_000;

let sim: Simulator;
const running: RunningOperator[] = [];

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 16 } });
});
afterAll(async () => {
  for (const op of running) await op.stop();
  await sim?.stop();
});

/** The bindings in BTP of these BTPCertificates, in any phase. */
const bindingsOf = (uids: readonly string[]) =>
  sim.bindings().filter((b) => uids.some((uid) => b.labels[UID_LABEL]?.includes(uid)));

const operatorFor = (namespace: string): RunningOperator => {
  const op = startOperator(kc, { namespaces: [namespace], btpCaPem: sim.caBundlePem });
  running.push(op);
  return op;
};

/** A namespace of its own, watched by an operator of its own. */
async function scene(prefix: string) {
  const space = await createNamespace(kc, prefix);
  return { space, op: operatorFor(space.name), certs: new Certificates(kc, space.name) };
}

const stopOperator = async (op: RunningOperator) => {
  await op.stop();
  running.splice(running.indexOf(op), 1);
};

const readSecret = async (namespace: string, name: string): Promise<V1Secret | undefined> => {
  try {
    return await core.readNamespacedSecret({ namespace, name });
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
};

const smSource = (secretName = 'sm-access') => ({
  serviceManager: {
    credentialsSecretRef: { name: secretName },
    serviceInstanceName: 'xsuaa-application',
    x509: { keyLength: 2048 as const, validity: 1, validityType: 'DAYS' as const },
  },
});

/**
 * The SM access Secret and `count` serviceManager certificates, all Ready; the first `rotated` of
 * them renewed once, so that they have a retired binding too (kept for an hour). Returns the uids.
 */
async function populate(
  certs: Certificates,
  count: number,
  rotated: number,
  spec: { deletionPolicy?: 'Delete' | 'Retain' } = {},
): Promise<string[]> {
  await core.createNamespacedSecret({
    namespace: certs.namespace,
    body: { metadata: { name: 'sm-access' }, stringData: kymaSecretData(sim.smCredentials.x509) },
  });
  const uids: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = await certs.create(`c${i}`, {
      secretName: `c${i}-tls`,
      source: smSource(),
      rotatedBindingTTL: '1h',
      ...spec,
    });
    uids.push(created.metadata.uid);
  }
  for (let i = 0; i < count; i++) {
    await certs.waitForCondition(`c${i}`, 'Ready', { status: 'True' }, 120_000);
  }
  for (let i = 0; i < rotated; i++) {
    await certs.annotate(`c${i}`, { 'btpcerts.io/renew-requested-at': 'teardown-test' });
  }
  for (let i = 0; i < rotated; i++) {
    await waitFor(
      async () => {
        const c = await certs.get(`c${i}`);
        return (c.status?.binding?.revision ?? 0) >= 2 && (c.status?.retiredBindings?.length ?? 0) === 1;
      },
      { description: `c${i} renewed once`, timeoutMs: 120_000 },
    );
  }
  return uids;
}

const namespaceGone = (name: string) =>
  waitFor(() => isGone(() => core.readNamespace({ name })), {
    description: `namespace ${name} gone`,
    timeoutMs: TEARDOWN_MS,
    intervalMs: 500,
  });

describe('deleting a namespace deletes the BTP bindings of its certificates', () => {
  it('with the operator running: no binding is left, current or retired', async () => {
    const { space, op, certs } = await scene('teardown');
    const uids = await populate(certs, 5, 3);
    expect(bindingsOf(uids)).toHaveLength(8);
    // Held for the cleanup, from before the first binding was created (checked last: the
    // bindings left in BTP are what matters).
    const held = (await readSecret(space.name, 'sm-access'))?.metadata?.finalizers ?? [];

    await space.delete();
    await namespaceGone(space.name);
    expect(bindingsOf(uids).map((b) => b.name)).toEqual([]);
    expect(held).toContain(IN_USE);
    await stopOperator(op);
  });

  it('with the operator stopped while the namespace is deleted and started again afterwards', async () => {
    const started = await scene('teardown-restart');
    const { space, certs } = started;
    let op = started.op;
    const uids = await populate(certs, 4, 2);
    expect(bindingsOf(uids)).toHaveLength(6);
    await stopOperator(op);

    await space.delete();
    // The namespace controller has done what it can without the operator: every BTPCertificate
    // is being deleted, and the access Secret was deleted (gone, or held).
    await waitFor(
      async () => {
        const all = await Promise.all(uids.map((_, i) => certs.get(`c${i}`)));
        const secret = await readSecret(space.name, 'sm-access');
        return (
          all.every((c) => c.metadata.deletionTimestamp !== undefined) &&
          (secret === undefined || secret.metadata?.deletionTimestamp !== undefined)
        );
      },
      {
        description: 'the namespace controller deleted the certificates and the access Secret',
        timeoutMs: TEARDOWN_MS,
      },
    );
    expect(bindingsOf(uids)).toHaveLength(6);

    op = operatorFor(space.name);
    await namespaceGone(space.name);
    expect(bindingsOf(uids).map((b) => b.name)).toEqual([]);
    await stopOperator(op);
  });
});

describe('the access Secret stays while certificates still need it', () => {
  it('deleted by a user, it stays until the certificates that use it are gone, and status says why', async () => {
    const { space, op, certs } = await scene('access-deleted');
    const uids = await populate(certs, 2, 0);

    await core.deleteNamespacedSecret({ namespace: space.name, name: 'sm-access' });
    const terminating = await readSecret(space.name, 'sm-access');
    expect(terminating?.metadata?.deletionTimestamp).toBeDefined();
    expect(terminating?.metadata?.finalizers).toContain(IN_USE);
    for (const name of ['c0', 'c1']) {
      const cert = await certs.waitForCondition(name, 'Ready', {
        status: 'True',
        reason: 'AccessSecretTerminating',
      });
      expect(readyMessage(cert)).toContain('sm-access');
    }

    // The first certificate goes with its binding; the Secret stays for the second.
    await certs.deleteAndWait('c0', 120_000);
    expect(bindingsOf([uids[0] ?? ''])).toEqual([]);
    expect((await readSecret(space.name, 'sm-access'))?.metadata?.finalizers).toContain(IN_USE);
    expect(bindingsOf([uids[1] ?? ''])).toHaveLength(1);

    // The last one goes, then the Secret.
    await certs.deleteAndWait('c1', 120_000);
    expect(bindingsOf(uids)).toEqual([]);
    await waitFor(
      () => isGone(() => core.readNamespacedSecret({ namespace: space.name, name: 'sm-access' })),
      {
        description: 'access Secret gone',
      },
    );
    await stopOperator(op);
    await space.delete();
  });

  it('a certificate whose access Secret never existed is not held; Retain lets go at once and releases the Secret', async () => {
    const { space, op, certs } = await scene('access-none');
    await certs.create('orphan', { secretName: 'orphan-tls', source: smSource('no-such-secret') });
    await certs.waitForCondition('orphan', 'Ready', { status: 'False', reason: 'SourceNotFound' });
    expect((await certs.get('orphan')).metadata.finalizers).toContain('btpcerts.io/service-bindings');
    await certs.deleteAndWait('orphan');

    const uids = await populate(certs, 1, 0, { deletionPolicy: 'Retain' });
    await certs.deleteAndWait('c0');
    // Retain: the binding stays in BTP; nothing holds the access Secret any more.
    const kept = bindingsOf(uids);
    expect(kept).toHaveLength(1);
    expect((await readSecret(space.name, 'sm-access'))?.metadata?.finalizers ?? []).not.toContain(IN_USE);
    for (const b of kept) sim.removeBinding(b.id);
    await stopOperator(op);
    await space.delete();
  });

  it('a certificate that moves to another access Secret releases the one it used', async () => {
    const { space, op, certs } = await scene('access-moved');
    await populate(certs, 1, 0);
    await core.createNamespacedSecret({
      namespace: space.name,
      body: { metadata: { name: 'sm-access-2' }, stringData: kymaSecretData(sim.smCredentials.x509) },
    });
    await certs.patchSpec('c0', { source: smSource('sm-access-2') });
    await waitFor(
      async () => {
        const [before, after] = await Promise.all([
          readSecret(space.name, 'sm-access'),
          readSecret(space.name, 'sm-access-2'),
        ]);
        return (
          !(before?.metadata?.finalizers ?? []).includes(IN_USE) &&
          (after?.metadata?.finalizers ?? []).includes(IN_USE)
        );
      },
      { description: 'sm-access released, sm-access-2 held' },
    );
    await certs.waitForCondition('c0', 'Ready', { status: 'True' });
    await certs.deleteAndWait('c0');
    await stopOperator(op);
    await space.delete();
  });

  it('a certificate that truly cannot delete its bindings keeps its finalizer and says so in status', async () => {
    const started = await scene('access-lost');
    const { space, certs } = started;
    let op = started.op;
    const uids = await populate(certs, 1, 0);
    // An access Secret lost without the operator's knowledge: as one from before the in-use
    // finalizer, deleted while the operator was not running.
    await stopOperator(op);
    const secret = await readSecret(space.name, 'sm-access');
    await core.patchNamespacedSecret(
      {
        namespace: space.name,
        name: 'sm-access',
        body: {
          metadata: {
            finalizers: (secret?.metadata?.finalizers ?? []).filter((f) => f !== IN_USE),
            resourceVersion: secret?.metadata?.resourceVersion,
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedSecret({ namespace: space.name, name: 'sm-access' });
    op = operatorFor(space.name);

    await certs.delete('c0');
    const stuck = await certs.waitForCondition('c0', 'Ready', {
      status: 'False',
      reason: 'BindingsNotDeleted',
    });
    expect(stuck.metadata.finalizers).toContain('btpcerts.io/service-bindings');
    expect(stuck.status?.conditions?.find((c) => c.type === 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'BindingsNotDeleted',
    });
    expect(readyMessage(stuck)).toContain(stuck.status?.binding?.name ?? 'no binding recorded');
    expect(bindingsOf(uids)).toHaveLength(1);

    // The access comes back: the deletion completes by itself.
    await core.createNamespacedSecret({
      namespace: space.name,
      body: { metadata: { name: 'sm-access' }, stringData: kymaSecretData(sim.smCredentials.x509) },
    });
    await waitFor(() => isGone(() => certs.get('c0')), { description: 'c0 gone', timeoutMs: 120_000 });
    expect(bindingsOf(uids)).toEqual([]);
    await stopOperator(op);
    await space.delete();
  });
});

const readyMessage = (cert: BTPCertificate) =>
  cert.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
