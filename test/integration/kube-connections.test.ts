// Requests to the API server share kept-alive connections (issue 11, ADR 0010). client-node 2.0.1
// builds a new undici Agent for every request, so each request made a new TLS connection: 200
// requests, about 200 handshakes. A TCP proxy in front of the API server counts the connections
// the operator's KubeConfig makes; the count stays at a handful however many requests go through.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthenticationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubeApi } from '../../src/kube/api.ts';
import { keptAlive } from '../../src/kube/config.ts';
import { Certificates } from '../support/btpcert.ts';
import { type CountingProxy, countingProxy } from '../support/counting-proxy.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { startOperator } from '../support/operator.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const ns = testNamespace(kc, 'connections');
let proxy: CountingProxy;

beforeAll(async () => {
  proxy = await countingProxy(kc.getCurrentCluster()?.server ?? '');
});
afterAll(async () => {
  await proxy.close();
});

/** Runs `count` calls of `call`, `parallel` at a time. */
async function times(count: number, parallel: number, call: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await call(next++);
    }),
  );
}

async function whoAmI(config: KubeConfig): Promise<string | undefined> {
  const review = await config
    .makeApiClient(AuthenticationV1Api)
    .createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  return review.status?.userInfo?.username;
}

describe('connections to the API server', () => {
  it('200 requests of the kube boundary, 8 at a time, use at most a handful of connections', async () => {
    const config = keptAlive(proxy.through(kc));
    const api = kubeApi(config);
    const before = proxy.connections();
    await times(200, 8, (i) =>
      i % 2 === 0 ? api.getSecret(ns, `absent-${i}`) : api.listSecretNames(ns, 'app=none'),
    );
    await config.close();
    expect(proxy.connections() - before).toBeLessThanOrEqual(8);
  });

  it('a watch runs on the shared pool while 200 requests go by, and sees a change made after them', async () => {
    const config = keptAlive(proxy.through(kc));
    const api = kubeApi(config);
    const before = proxy.connections();
    const seen = new Set<string>();
    const watch = await new Watch(config).watch(
      `/api/v1/namespaces/${ns}/secrets`,
      {},
      (_type, obj: { metadata?: { name?: string } }) => {
        if (obj.metadata?.name) seen.add(obj.metadata.name);
      },
      () => {},
    );
    await times(200, 16, (i) => api.getSecret(ns, `absent-${i}`));
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'after-requests' } } });
    await waitFor(() => seen.has('after-requests'), { timeoutMs: 30_000, description: 'the watch event' });
    watch.abort();
    await config.close();
    // 16 concurrent requests at most, plus the watch's own connection.
    expect(proxy.connections() - before).toBeLessThanOrEqual(17 + 2);
  });

  it('more watches than one connection carries do not hold up requests', async () => {
    // HTTP/2 to the API server: a connection carries up to 100 streams (undici's default), and a
    // watch holds its stream for as long as it runs. A capped pool would queue requests behind them.
    const config = keptAlive(proxy.through(kc));
    const api = kubeApi(config);
    const seen = new Set<number>();
    const watches = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        new Watch(config).watch(
          `/api/v1/namespaces/${ns}/configmaps`,
          {},
          (type, obj: { metadata?: { name?: string } }) => {
            if (type === 'ADDED' && obj.metadata?.name === 'after-watches') seen.add(i);
          },
          () => {},
        ),
      ),
    );
    await times(20, 4, (i) => api.getSecret(ns, `absent-${i}`));
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'after-watches' } } });
    await waitFor(() => seen.size === 120, { timeoutMs: 30_000, description: 'the event on every watch' });
    for (const w of watches) w.abort();
    await config.close();
  });

  it('the operator issues 30 certificates over the connections it already has', async () => {
    const operator = startOperator(proxy.through(kc), { namespaces: [ns] });
    try {
      const certs = new Certificates(kc, ns, { token: { check: false } });
      await core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: 'src' }, stringData: bindingCredentials().fields },
      });
      await certs.create('first', { secretName: 'tls-first', source: { secret: { name: 'src' } } });
      await certs.waitForCondition('first', 'Ready', { status: 'True', reason: 'Issued' });
      const before = proxy.connections();
      const names = Array.from({ length: 30 }, (_, i) => `cert-${i}`);
      for (const name of names)
        await certs.create(name, { secretName: `tls-${name}`, source: { secret: { name: 'src' } } });
      for (const name of names)
        await certs.waitForCondition(name, 'Ready', { status: 'True', reason: 'Issued' });
      // Each of them took a Secret apply, a status patch and an Event at least: over 90 requests.
      // The workers (4) and the watches may each open a connection; that is all.
      expect(proxy.connections() - before).toBeLessThanOrEqual(12);
    } finally {
      await operator.stop();
    }
  });

  it('a ServiceAccount token authenticates every request on the shared pool', async () => {
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'reader' } } });
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'secret-reader' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'secret-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secret-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    });
    const issued = await core.createNamespacedServiceAccountToken({
      namespace: ns,
      name: 'reader',
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const token = issued.status?.token ?? '';
    const cluster = proxy.through(kc).getCurrentCluster();
    if (cluster === null) throw new Error('no cluster');
    const asReader = new KubeConfig();
    asReader.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'reader', token }],
      contexts: [{ name: 'reader', cluster: cluster.name, user: 'reader' }],
      currentContext: 'reader',
    });
    const config = keptAlive(asReader);
    const before = proxy.connections();
    expect(await whoAmI(config)).toBe(`system:serviceaccount:${ns}:reader`);
    const api = kubeApi(config);
    await times(50, 2, () => api.listSecretNames(ns, 'app=none'));
    await config.close();
    expect(proxy.connections() - before).toBeLessThanOrEqual(2);
  });

  it('a changed client certificate file is presented on a new connection at the next request', async () => {
    const admin = kc.getCurrentUser();
    if (admin?.certData === undefined || admin.keyData === undefined) throw new Error('no admin certificate');
    const adminCert = Buffer.from(admin.certData, 'base64');
    const adminKey = Buffer.from(admin.keyData, 'base64');
    const dir = mkdtempSync(join(tmpdir(), 'btpcerts-client-cert-'));
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, adminCert);
    writeFileSync(keyFile, adminKey);
    const cluster = proxy.through(kc).getCurrentCluster();
    if (cluster === null) throw new Error('no cluster');
    const fromFiles = new KubeConfig();
    fromFiles.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'files', certFile, keyFile }],
      contexts: [{ name: 'files', cluster: cluster.name, user: 'files' }],
      currentContext: 'files',
    });
    const config = keptAlive(fromFiles);
    const before = proxy.connections();
    for (let i = 0; i < 20; i++) expect(await whoAmI(config)).toBe('btpcerts-admin');
    expect(proxy.connections() - before).toBe(1);

    // A certificate the API server does not trust (another CA): the request is refused, which
    // shows that the new certificate, not the pooled connection's, was presented.
    const { fields } = bindingCredentials();
    writeFileSync(certFile, fields.certificate);
    writeFileSync(keyFile, fields.key);
    await expect(whoAmI(config)).rejects.toMatchObject({ code: 401 });
    expect(proxy.connections() - before).toBe(2);

    writeFileSync(certFile, adminCert);
    writeFileSync(keyFile, adminKey);
    expect(await whoAmI(config)).toBe('btpcerts-admin');
    expect(proxy.connections() - before).toBe(3);
    await config.close();
  });
});
