// Rotation through the Kyma BTP operator as it behaves (issue 8, defects 2 and 5): certificates
// whose CA backdates notBefore by an hour, the stale backup ServiceBinding a rotation leaves, the
// forceRotate annotation it removes, spec.externalName without a webhook, and the
// Succeeded=False/InProgress a Service Manager 429 leaves behind. The stand-in
// (test/support/kyma-stand-in.ts) plays the BTP operator; the BTP simulator issues the certificates.
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createX509Binding, type SmClient, smClient, X509_PARAMETERS } from '../simulator/helpers.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { Certificates, decoded } from '../support/btpcert.ts';
import { REPO_ROOT } from '../support/control-plane/binaries.ts';
import { applyManifestDir } from '../support/control-plane/manifests.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import {
  createServiceBinding,
  FORCE_ROTATE,
  KymaStandIn,
  ROTATION_OF_LABEL,
  STALE_LABEL,
} from '../support/kyma-stand-in.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const custom = kc.makeApiClient(CustomObjectsApi);
const ns = testNamespace(kc, 'btpcert-kyma');
const SB = { group: 'services.cloud.sap.com', version: 'v1', plural: 'servicebindings' } as const;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** CAs backdate notBefore to tolerate clock skew, many by an hour (btp.md section 5). */
const BACKDATE_SECONDS = 3600;

type ServiceBinding = {
  metadata: {
    name: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { name: string; uid: string; controller?: boolean }[];
  };
  spec: { secretName?: string; externalName?: string };
  status?: {
    bindingID?: string;
    ready?: string;
    lastCredentialsRotationTime?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
};

let sim: Simulator;
let sm: SmClient;
let operator: RunningOperator;
let standIn: KymaStandIn;
let certs: Certificates;
let issued = 0;

beforeAll(async () => {
  await applyManifestDir(kc, join(REPO_ROOT, 'test/fixtures/crds'));
  // A CRD just established can still answer 429 "storage is (re)initializing" for a moment.
  await waitFor(
    () =>
      custom.listNamespacedCustomObject({ ...SB, namespace: ns }).then(
        () => true,
        () => false,
      ),
    { description: 'the ServiceBinding API serving' },
  );
  sim = await startSimulator({ notBeforeBackdateSeconds: BACKDATE_SECONDS });
  sm = await smClient(sim);
  const instance = sim.instance('xsuaa-application');
  standIn = new KymaStandIn(
    kc,
    ns,
    async ({ externalName, parameters }) => {
      // The real one renames the old binding in Service Manager; unique names stand in for that.
      issued += 1;
      const b = await createX509Binding(
        sm,
        instance.id,
        `${externalName}-${issued}`,
        parameters ?? X509_PARAMETERS,
      );
      return { bindingID: b.id, credentials: b.credentials };
    },
    {
      unbind: async (id) => {
        await sm.call('DELETE', `/v1/service_bindings/${id}`);
      },
    },
  );
  standIn.start();
  operator = startOperator(kc, { namespaces: [ns], btpCaPem: sim.caBundlePem });
  certs = new Certificates(kc, ns);
});

afterAll(async () => {
  await standIn?.stop();
  await operator?.stop();
  await sm?.close();
  await sim?.stop();
});

const createBinding = (name: string, spec: Record<string, unknown> = {}) =>
  createServiceBinding(custom, ns, name, spec);

async function binding(name: string): Promise<ServiceBinding> {
  return (await custom.getNamespacedCustomObject({ ...SB, namespace: ns, name })) as ServiceBinding;
}

async function bindings(labelSelector?: string): Promise<ServiceBinding[]> {
  const list = (await custom.listNamespacedCustomObject({
    ...SB,
    namespace: ns,
    ...(labelSelector ? { labelSelector } : {}),
  })) as { items: ServiceBinding[] };
  return list.items;
}

async function patchBinding(name: string, body: Record<string, unknown>): Promise<void> {
  await custom.patchNamespacedCustomObject({ ...SB, namespace: ns, name, body }, mergePatch);
}

/**
 * A ServiceBinding that may rotate (its stale backups kept 5 s) and a BTPCertificate on it that
 * renews `renewBefore` before notAfter; waits until the BTPCertificate is Ready.
 */
async function createRotating(name: string, renewBefore: string): Promise<void> {
  await createBinding(name, {
    externalName: name,
    credentialsRotationPolicy: { enabled: true, rotatedBindingTTL: '5s' },
  });
  await certs.create(name, {
    secretName: `${name}-tls`,
    source: { serviceBinding: { name } },
    renewBefore,
  });
  await certs.waitForCondition(name, 'Ready', { status: 'True', reason: 'Issued' });
}

/** Ends a short-lived pair, so that its renewals do not go on during the next tests. */
async function deleteRotating(name: string): Promise<void> {
  await certs.delete(name).catch(() => undefined);
  await custom.deleteNamespacedCustomObject({ ...SB, namespace: ns, name }).catch(() => undefined);
}

const leafOf = (pem: string | undefined) => (pem ? new X509Certificate(pem) : undefined);
const condition = (sb: ServiceBinding, type: string) => sb.status?.conditions?.find((c) => c.type === type);

/**
 * Reads the TLS Secret every 250 ms: which certificates it held, and how often the one it held had
 * expired (the issue counted 323 such samples).
 */
function watchSecret(secretName: string, bindingName: string) {
  const seen = {
    samples: 0,
    expired: [] as string[],
    fingerprints: new Set<string>(),
    rotationTimes: new Set<string>(),
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      const leaf = leafOf(decoded(await certs.secret(secretName), 'tls.crt'));
      const now = new Date();
      if (leaf !== undefined) {
        seen.samples += 1;
        seen.fingerprints.add(leaf.fingerprint256);
        if (leaf.validToDate <= now) seen.expired.push(`${now.toISOString()} > ${leaf.validTo}`);
      }
      const sb = await binding(bindingName).catch(() => undefined);
      const rotated = sb?.status?.lastCredentialsRotationTime;
      if (rotated !== undefined) seen.rotationTimes.add(rotated);
      await sleep(250);
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe('rotation through the Kyma BTP operator', () => {
  it('issue 8 (2): three consecutive rotations of a 60 s certificate whose CA backdates notBefore by an hour, none expired', async () => {
    sim.setLifetimeOverride(60);
    const watch = watchSecret('short-tls', 'short');
    try {
      // Renewal 40 s before notAfter: 20 s after issue. Each new certificate's notBefore lies an
      // hour before the request that brought it.
      await createRotating('short', '40s');
      await waitFor(() => watch.seen.fingerprints.size >= 4 || watch.seen.expired.length > 0, {
        description: 'three rotations (four certificates in the Secret), or an expired one',
        timeoutMs: 240_000,
      });
      expect(watch.seen.expired).toEqual([]);
      expect(watch.seen.fingerprints.size).toBeGreaterThanOrEqual(4);
      // The fourth certificate is in the Secret before the BTP operator's last step of that rotation.
      await waitFor(() => (standIn.rotations.get('short') ?? 0) >= 3, {
        description: 'three rotations completed by the BTP operator',
      });
      // lastCredentialsRotationTime moved with the rotations (whole seconds, so at least two values).
      expect(watch.seen.rotationTimes.size).toBeGreaterThanOrEqual(2);

      const cert = await certs.get('short');
      expect(cert.status?.source).toBe('ServiceBinding/short');
      const leaf = leafOf(decoded(await certs.secret('short-tls'), 'tls.crt'));
      const requestedAt = Date.parse(cert.status?.lastRotationRequestTime ?? '');
      // The backdated notBefore lies before the last request, which the old rule read as "already asked".
      expect(leaf?.validFromDate.getTime()).toBeLessThan(requestedAt);
      expect(cert.status?.lastRotationRequestFingerprint).toBeDefined();
      expect(watch.seen.fingerprints.has(cert.status?.lastRotationRequestFingerprint ?? '')).toBe(true);

      // The stale backups were deleted after their 5 s TTL, with their Secrets.
      await waitFor(async () => (await bindings(`${ROTATION_OF_LABEL}=short`)).length === 0, {
        description: 'stale ServiceBindings of short deleted after rotatedBindingTTL',
        timeoutMs: 60_000,
      });
      // The stand-in records a deletion after it has also unbound in BTP: a request that can end
      // after the API no longer lists the binding (seen in a clean-clone run: 2 of 3 recorded).
      await waitFor(() => standIn.staleDeleted.length >= 3, {
        description: 'the stand-in recorded the three stale deletions',
      });
    } finally {
      await watch.stop();
      sim.setLifetimeOverride(null);
      await deleteRotating('short');
    }
  }, 330_000);

  it('issue 8 (5): a rotation leaves a stale ServiceBinding <name>-<6 chars>; it is never taken as a source', async () => {
    await createBinding('backup', {
      externalName: 'backup',
      credentialsRotationPolicy: { enabled: true, rotatedBindingTTL: '1h' },
    });
    await certs.create('backup', {
      secretName: 'backup-tls',
      source: { serviceBinding: { name: 'backup' } },
    });
    const first = await certs.waitForCondition('backup', 'Ready', { status: 'True', reason: 'Issued' });
    const before = await binding('backup');
    expect(before.status?.lastCredentialsRotationTime).toBeUndefined();

    // Rotated by hand, as a user would.
    await patchBinding('backup', { metadata: { annotations: { [FORCE_ROTATE]: 'true' } } });
    await waitFor(
      async () => (await certs.get('backup')).status?.sha256Fingerprint !== first.status?.sha256Fingerprint,
      { description: 'the new certificate in backup-tls', timeoutMs: 60_000 },
    );
    const rotated = await waitFor(
      async () => {
        const sb = await binding('backup');
        return sb.status?.lastCredentialsRotationTime !== undefined ? sb : undefined;
      },
      { description: 'lastCredentialsRotationTime set' },
    );
    expect(rotated.metadata.annotations?.[FORCE_ROTATE]).toBeUndefined();
    expect(rotated.status?.bindingID).not.toBe(before.status?.bindingID);

    const stale = await bindings(STALE_LABEL);
    expect(stale).toHaveLength(1);
    const [backup] = stale;
    if (backup === undefined) throw new Error('no stale ServiceBinding');
    expect(backup.metadata.name).toMatch(/^backup-[a-z0-9]{6}$/);
    expect(backup.metadata.labels?.[STALE_LABEL]).toBe(before.status?.bindingID);
    expect(backup.metadata.ownerReferences).toEqual([
      expect.objectContaining({ name: 'backup', uid: before.metadata.uid, controller: true }),
    ]);
    // It holds the old credentials, in its own Secret.
    expect(backup.spec.secretName).toBe(`backup${backup.metadata.name.slice('backup'.length)}`);
    const staleLeaf = leafOf(decoded(await certs.secret(backup.spec.secretName ?? ''), 'certificate'));
    expect(staleLeaf?.fingerprint256).toBe(first.status?.sha256Fingerprint);

    // A BTPCertificate that names the backup does not take its credentials, which BTP revokes after the TTL.
    await certs.create('from-backup', {
      secretName: 'from-backup-tls',
      source: { serviceBinding: { name: backup.metadata.name } },
    });
    const refused = await certs.waitForCondition('from-backup', 'Ready', {
      status: 'False',
      reason: 'SourceNotReady',
    });
    expect(refused.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      'name backup as the source',
    );
    expect(await certs.secret('from-backup-tls')).toBeUndefined();
    // The one that names the original is current.
    await certs.waitForCondition('backup', 'Ready', { status: 'True', reason: 'Issued' });
    expect((await certs.get('backup')).status?.source).toBe('ServiceBinding/backup');
  });

  it('issue 8 (5): without spec.externalName (no webhook) the ServiceBinding fails, and the BTPCertificate says why', async () => {
    await createBinding('unnamed');
    await certs.create('unnamed', {
      secretName: 'unnamed-tls',
      source: { serviceBinding: { name: 'unnamed' } },
    });
    // SourceNotReady comes first for the Secret the ServiceBinding has not written yet; then, once the
    // stand-in has refused to create the binding, with why.
    await waitFor(
      async () =>
        (await certs.get('unnamed')).status?.conditions?.some(
          (c) => c.type === 'Ready' && c.reason === 'SourceNotReady' && c.message.includes('externalName'),
        ) === true,
      { description: 'unnamed Ready=False/SourceNotReady naming externalName' },
    );
    const sb = await binding('unnamed');
    expect(sb.status?.ready).toBe('False');
    expect(condition(sb, 'Succeeded')).toMatchObject({ status: 'False', reason: 'CreateFailed' });

    await patchBinding('unnamed', { spec: { externalName: 'unnamed' } });
    await certs.waitForCondition('unnamed', 'Ready', { status: 'True', reason: 'Issued' });
  });

  it('issue 8 (5): a 429 during rotation leaves Succeeded=False/InProgress with Ready=True; the skipped request is reported, and goes through once that clears', async () => {
    sim.setLifetimeOverride(90);
    const watch = watchSecret('limited-tls', 'limited');
    try {
      standIn.rateLimitNextRotation('limited');
      // Renewal 60 s before notAfter: 30 s after issue.
      await createRotating('limited', '60s');

      // The first rotation completes, with the 429 left behind.
      const afterFirst = await waitFor(
        async () => {
          const sb = await binding('limited');
          return standIn.rotations.get('limited') === 1 && sb.status?.lastCredentialsRotationTime
            ? sb
            : undefined;
        },
        { description: 'the first rotation of limited', timeoutMs: 90_000 },
      );
      expect(condition(afterFirst, 'Succeeded')).toMatchObject({
        status: 'False',
        reason: 'InProgress',
        message: 'Operation in progress',
      });
      expect(condition(afterFirst, 'Ready')).toMatchObject({ status: 'True' });
      expect(afterFirst.status?.ready).toBe('True');

      // The next renewal asks; the BTP operator skips forceRotate while Succeeded is False.
      const blocked = await certs.waitForCondition(
        'limited',
        'Renewal',
        { status: 'False', reason: 'SourceNotReady' },
        120_000,
      );
      expect(blocked.status?.conditions?.find((c) => c.type === 'Renewal')?.message).toContain(
        'Operation in progress',
      );
      expect(await certs.events('limited')).toContainEqual(
        expect.objectContaining({ type: 'Warning', reason: 'SourceNotReady' }),
      );
      const skipped = await binding('limited');
      expect(skipped.metadata.annotations?.[FORCE_ROTATE]).toBe('true');
      expect(standIn.rotations.get('limited')).toBe(1);
      const current = blocked.status?.sha256Fingerprint;

      // A change of its spec clears Succeeded (its maintain step), and the request still there is served.
      await patchBinding('limited', { spec: { credentialsRotationPolicy: { rotationFrequency: '71h' } } });
      await waitFor(async () => (await certs.get('limited')).status?.sha256Fingerprint !== current, {
        description: 'the certificate rotated after Succeeded cleared',
        timeoutMs: 60_000,
      });
      await certs.waitForCondition('limited', 'Renewal', { status: 'False', reason: 'NotDue' });
      await waitFor(() => standIn.rotations.get('limited') === 2, {
        description: 'the second rotation completed',
      });
      expect(watch.seen.expired).toEqual([]);
    } finally {
      await watch.stop();
      sim.setLifetimeOverride(null);
      await deleteRotating('limited');
    }
  }, 330_000);

  it('left the stand-in without errors', () => {
    expect(standIn.errors).toEqual([]);
  });
});
