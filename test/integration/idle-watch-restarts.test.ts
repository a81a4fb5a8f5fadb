// Issue 8, defect 4: every BTPCertificate was reconciled again each time the uncached Secret watch
// ended on its client-side inactivity timeout (every 30-60 s on an idle cluster), because any
// end of that watch counted as a gap. With short watch timeouts, idle certificates are held across
// several ends of every watch: neither the reconcile counter (the operator's /metrics) nor the
// operator's reads (the kube-apiserver's own /metrics) may grow, and a change of a source Secret
// after all those ends must still arrive.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { BTPCertificate } from '../../src/api/types.ts';
import { Certificates } from '../support/btpcert.ts';
import { REPO_ROOT } from '../support/control-plane/binaries.ts';
import { ControlPlane } from '../support/control-plane/control-plane.ts';
import { get } from '../support/control-plane/probe.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { installOperatorIdentity } from '../support/operator-identity.ts';

// A control plane of its own, without kube-controller-manager: the kube-apiserver's request counts
// then hold the operator's requests and this test's, nobody else's (the shared one also serves
// the namespace controller and the garbage collector, which read and delete Secrets of the
// namespaces earlier files left behind).
let cp: ControlPlane;
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let operatorToken: string;
const ns = 'idle-watch';
beforeAll(async () => {
  cp = await ControlPlane.start({ binDir: inject('kubeBinDir'), controllerManager: false });
  await cp.installCRDs(join(REPO_ROOT, 'crds'));
  kc = cp.kubeConfig();
  operatorToken = await installOperatorIdentity(kc);
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: ns } } });
}, 120_000);

const CERTIFICATES = 20;
/** Ends of every watch to sit through while idle. */
const WATCH_ENDS = 4;
/**
 * A client inactivity timeout shorter than most server-side ends: an idle watch asked to end
 * after 1 s is closed by the server; one asked for 2-4 s goes silent after the bookmark the
 * apiserver sends 2 s before the end, and the client gives up on it first.
 */
const WATCH_TIMEOUTS = { inactivityMs: 1_500, serverSeconds: { min: 1, max: 4 } } as const;
/** No resync while the test runs: only watch events may cause reconciles. */
const RESYNC_MS = 30 * 60_000;
const DEADLINE = { timeoutMs: 120_000, intervalMs: 250 };
/** The watches whose ends are the subject here (the ServiceBinding API is not installed). */
const WATCHED = ['btpcertificates', 'managed-secrets', 'source-secrets'].map((w) => `${w}@${ns}`);

let operator: RunningOperator | undefined;
afterAll(async () => {
  await operator?.stop();
  await cp?.stop();
});

it('an idle operator sits through watch ends without reconciling or reading again', async () => {
  const certs = new Certificates(kc, ns, { token: { check: false } });
  const names = Array.from({ length: CERTIFICATES }, (_, i) => `idle-${i}`);
  for (const name of names) {
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: `src-${name}` }, stringData: bindingCredentials().fields },
    });
    await certs.create(name, { secretName: `tls-${name}`, source: { secret: { name: `src-${name}` } } });
  }
  // Started after the objects exist, so that no watch has creations left to deliver.
  const running = startOperator(kc, {
    namespaces: [ns],
    resyncMs: RESYNC_MS,
    watchTimeouts: WATCH_TIMEOUTS,
    operatorToken,
  });
  operator = running;
  for (const name of names) await certs.waitForCondition(name, 'Ready', { status: 'True' }, 120_000);
  await waitFor(() => settled(running, names), { description: 'the operator idle', ...DEADLINE });

  const reconcilesBefore = await reconciles(running);
  const readsBefore = await apiserverRequests(kc);
  const watchesBefore = running.controller.watches();

  await waitFor(
    () => {
      const now = running.controller.watches();
      return WATCHED.every((w) => (now[w] ?? 0) >= (watchesBefore[w] ?? 0) + WATCH_ENDS);
    },
    { description: `${WATCH_ENDS} ends of every watch`, ...DEADLINE },
  );
  const readsAfter = await apiserverRequests(kc);
  // The apiserver saw the watches end too (it counts a watch request when it is over).
  expect(readsAfter['WATCH secrets'] ?? 0).toBeGreaterThanOrEqual(
    (readsBefore['WATCH secrets'] ?? 0) + WATCH_ENDS,
  );

  // Reads (GET, LIST) by resource that grew: none may.
  const grown = Object.fromEntries(
    Object.entries(readsAfter)
      .filter(([k]) => !k.startsWith('WATCH '))
      .map(([k, n]) => [k, n - (readsBefore[k] ?? 0)])
      .filter(([, d]) => d !== 0),
  );
  expect({ reconciles: (await reconciles(running)) - reconcilesBefore, reads: grown }).toEqual({
    reconciles: 0,
    reads: {},
  });

  // Routine ends are logged at debug, with what happened, never as an HTTP status.
  const lines = readFileSync(running.logFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { level: string; msg: string; reason?: string; watch?: string });
  const ends = lines.filter((l) => l.watch !== undefined && l.reason !== undefined);
  // Which of the two routine ends each watch met depends on the server's random end time (the
  // unit tests of the reasons cover both); here every end must be one of them.
  expect(ends.length).toBeGreaterThanOrEqual(WATCH_ENDS);
  for (const line of ends) expect(line.reason).toMatch(/^(closed by the server|no data for)/);
  for (const line of ends) {
    expect(line.level).toBe('debug');
    expect(line.reason).not.toMatch(/^HTTP/);
  }

  // The watch still works: a change of one source Secret reaches its certificate.
  const next = bindingCredentials(3 * 24 * 3_600_000);
  await core.replaceNamespacedSecret({
    namespace: ns,
    name: `src-${names[0]}`,
    body: { metadata: { name: `src-${names[0]}` }, stringData: next.fields },
  });
  const fingerprint = new X509Certificate(next.h.leaf.pem).fingerprint256;
  await waitFor(async () => (await certs.get(names[0] ?? '')).status?.sha256Fingerprint === fingerprint, {
    description: 'the new certificate in the status',
    ...DEADLINE,
  });
}, 600_000);

/** Reconcile runs so far, from the operator's /metrics text. */
async function reconciles(running: RunningOperator): Promise<number> {
  let total = 0;
  for (const line of (await running.operator.metrics()).split('\n')) {
    const m = /^btpcert_reconcile_total\{[^}]*\} (\d+)$/.exec(line);
    if (m) total += Number(m[1]);
  }
  return total;
}

/**
 * The operator has nothing left to do: its caches hold what the API holds (no watch event is on
 * its way), no reconcile runs, and none is due before the resync.
 */
async function settled(running: RunningOperator, names: readonly string[]): Promise<boolean> {
  const { controller } = running;
  const list = (await custom.listNamespacedCustomObject({
    group: 'btpcerts.io',
    version: 'v1alpha1',
    namespace: ns,
    plural: 'btpcertificates',
  })) as { items: BTPCertificate[] };
  const cached = new Map(
    (controller.cachedCertificates() as BTPCertificate[]).map((c) => [c.metadata.name, c.metadata]),
  );
  for (const cert of list.items) {
    if (cached.get(cert.metadata.name)?.resourceVersion !== cert.metadata.resourceVersion) return false;
  }
  const secrets = await core.listNamespacedSecret({
    namespace: ns,
    labelSelector: 'btpcerts.io/managed=true',
  });
  if (secrets.items.length !== names.length) return false;
  for (const s of secrets.items) {
    const name = s.metadata?.name ?? '';
    if (controller.managedSecret(ns, name)?.metadata?.resourceVersion !== s.metadata?.resourceVersion)
      return false;
  }
  const queue = controller.queue;
  if (queue.inFlight !== 0) return false;
  const soon = Date.now() + RESYNC_MS / 2;
  return names.every((name) => {
    const state = queue.inspect(`${ns}/${name}`);
    return state !== undefined && !state.running && state.dueMs !== undefined && state.dueMs > soon;
  });
}

/**
 * The kube-apiserver's own count of requests on the resources the operator reads, by verb and
 * resource (`GET secrets`, `LIST btpcertificates`, `WATCH secrets`, ...). The control plane is this
 * test's own, and the test reads nothing itself while it counts.
 */
async function apiserverRequests(kubeConfig: KubeConfig): Promise<Record<string, number>> {
  const cluster = kubeConfig.getCurrentCluster();
  const user = kubeConfig.getCurrentUser();
  const pem = (data: string | undefined) => Buffer.from(data ?? '', 'base64').toString('utf8');
  const response = await get(`${cluster?.server ?? ''}/metrics`, {
    ca: pem(cluster?.caData),
    cert: pem(user?.certData),
    key: pem(user?.keyData),
  });
  expect(response.status).toBe(200);
  const counts: Record<string, number> = {};
  for (const line of response.body.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    const resource = labels.resource ?? '';
    if (resource !== 'secrets' && resource !== 'btpcertificates') continue;
    const key = `${labels.verb} ${resource}`;
    counts[key] = (counts[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return counts;
}
