// ResilientInformer against the real kube-apiserver: selectors and cache content, recovery after
// the apiserver restarts, a CRD that is only installed after the informer started, and watch
// ends that are no gap. NameWatch: a 410 after an apiserver restart is its one gap.
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1ConfigMap,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ChangeKind,
  ResilientInformer,
  type ResilientInformerOptions,
} from '../../src/kube/informer.ts';
import { NameWatch } from '../../src/kube/name-watch.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { ControlPlane } from '../support/control-plane/control-plane.ts';
import { createNamespace, isNotFound, kubeConfigFromFile, uniqueSuffix, waitFor } from '../support/kube.ts';

const LABEL = 'btpcerts.io/informer-test';
// Fast restarts keep the suite short; the production defaults are 1 s doubling to 30 s.
const FAST_BACKOFF = { baseMs: 100, maxMs: 1_000, jitter: 0.1 };
const DEADLINE = { timeoutMs: 90_000, intervalMs: 100 };

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly reason?: string;
  readonly [field: string]: unknown;
}

/** A pino logger whose lines are kept, parsed, for assertions. */
function capturingLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

interface Seen {
  readonly kind: ChangeKind;
  readonly name: string;
  readonly value: string | undefined;
}

/** Records every change the informer delivers, as (kind, name, data.value). */
function record<T extends KubernetesObject>(informer: ResilientInformer<T>): Seen[] {
  const seen: Seen[] = [];
  informer.onChange((obj, kind) => {
    const data: unknown = 'data' in obj ? obj.data : undefined;
    const value =
      typeof data === 'object' && data !== null && 'value' in data && typeof data.value === 'string'
        ? data.value
        : undefined;
    seen.push({ kind, name: obj.metadata?.name ?? '', value });
  });
  return seen;
}

const has = (seen: Seen[], kind: ChangeKind, name: string, value?: string) =>
  seen.some((s) => s.kind === kind && s.name === name && (value === undefined || s.value === value));

function configMapInformer(
  kc: KubeConfig,
  namespace: string,
  extra: Partial<ResilientInformerOptions<V1ConfigMap>> = {},
): ResilientInformer<V1ConfigMap> {
  const core = kc.makeApiClient(CoreV1Api);
  return new ResilientInformer<V1ConfigMap>({
    kubeConfig: kc,
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    list: (selectors) => core.listNamespacedConfigMap({ namespace, ...selectors }),
    labelSelector: `${LABEL}=yes`,
    clock: systemClock,
    backoff: FAST_BACKOFF,
    ...extra,
  });
}

function configMap(name: string, value: string, labelled: boolean): V1ConfigMap {
  return {
    metadata: { name, ...(labelled ? { labels: { [LABEL]: 'yes' } } : {}) },
    data: { value },
  };
}

const informers: ResilientInformer<KubernetesObject>[] = [];
function track<T extends KubernetesObject>(informer: ResilientInformer<T>): ResilientInformer<T> {
  informers.push(informer as unknown as ResilientInformer<KubernetesObject>);
  return informer;
}
afterEach(async () => {
  for (const informer of informers.splice(0)) await informer.stop();
});

describe('ResilientInformer on the shared control plane', () => {
  const kc = kubeConfigFromFile(inject('kubeconfig'));
  const core = kc.makeApiClient(CoreV1Api);

  it('sees add, update and delete, and caches only labelled objects', async () => {
    const ns = await createNamespace(kc, 'informer');
    try {
      await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap('before', 'v0', true) });
      await core.createNamespacedConfigMap({
        namespace: ns.name,
        body: configMap('unlabelled-before', 'x', false),
      });

      const informer = track(configMapInformer(kc, ns.name));
      const seen = record(informer);
      expect(informer.hasSynced()).toBe(false);
      informer.start();
      await informer.whenSynced();
      expect(informer.hasSynced()).toBe(true);
      expect(informer.list().map((c) => c.metadata?.name)).toEqual(['before']);
      expect(has(seen, 'add', 'before', 'v0')).toBe(true);

      await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap('cm', 'v1', true) });
      await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap('unlabelled', 'x', false) });
      await waitFor(() => has(seen, 'add', 'cm', 'v1'), { description: 'add of cm', ...DEADLINE });
      expect(informer.get(ns.name, 'cm')?.data?.value).toBe('v1');

      await core.replaceNamespacedConfigMap({
        name: 'cm',
        namespace: ns.name,
        body: configMap('cm', 'v2', true),
      });
      await waitFor(() => has(seen, 'update', 'cm', 'v2'), { description: 'update of cm', ...DEADLINE });
      expect(informer.get(ns.name, 'cm')?.data?.value).toBe('v2');

      // Removing the label takes the object out of the selection: the cache drops it.
      await core.replaceNamespacedConfigMap({
        name: 'cm',
        namespace: ns.name,
        body: configMap('cm', 'v3', false),
      });
      await waitFor(() => has(seen, 'delete', 'cm'), {
        description: 'cm leaving the selection',
        ...DEADLINE,
      });
      expect(informer.get(ns.name, 'cm')).toBeUndefined();

      await core.deleteNamespacedConfigMap({ name: 'before', namespace: ns.name });
      await waitFor(() => has(seen, 'delete', 'before'), { description: 'delete of before', ...DEADLINE });

      expect(informer.list()).toEqual([]);
      expect(informer.list(ns.name)).toEqual([]);
      expect(informer.get(ns.name, 'unlabelled')).toBeUndefined();
      expect(seen.some((s) => s.name.startsWith('unlabelled'))).toBe(false);
      expect(informer.restarts).toBe(0);
    } finally {
      await ns.delete();
    }
  });

  it('lists in pages and keeps only what admit keeps, on the list and on the watch', async () => {
    const ns = await createNamespace(kc, 'informer-admit');
    try {
      for (const name of ['a', 'b', 'c', 'd', 'drop-1'])
        await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap(name, name, true) });
      const pages: (number | undefined)[] = [];
      const informer = track(
        configMapInformer(kc, ns.name, {
          list: (selectors) => {
            pages.push(selectors.limit);
            return core.listNamespacedConfigMap({ namespace: ns.name, ...selectors });
          },
          listPageSize: 2,
          // Keeps names and versions only, and nothing of objects whose name starts with drop-.
          admit: (cm) =>
            cm.metadata?.name?.startsWith('drop-')
              ? undefined
              : {
                  metadata: {
                    name: cm.metadata?.name ?? '',
                    namespace: ns.name,
                    resourceVersion: cm.metadata?.resourceVersion ?? '',
                  },
                },
        }),
      );
      const seen = record(informer);
      informer.start();
      await informer.whenSynced();
      expect(pages).toEqual([2, 2, 2]);
      expect(
        informer
          .list()
          .map((c) => c.metadata?.name)
          .sort(),
      ).toEqual(['a', 'b', 'c', 'd']);
      expect(informer.list().every((c) => c.data === undefined)).toBe(true);

      // On the watch: an object it keeps nothing of is neither cached nor reported (drop-2 comes
      // before e on the one watch). tenants-cache.test.ts: one that turns into such an object leaves.
      await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap('drop-2', 'x', true) });
      await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap('e', 'e', true) });
      await waitFor(() => informer.get(ns.name, 'e'), { description: 'e cached', ...DEADLINE });
      expect(informer.get(ns.name, 'e')?.data).toBeUndefined();
      expect(informer.get(ns.name, 'drop-2')).toBeUndefined();
      await core.deleteNamespacedConfigMap({ name: 'a', namespace: ns.name });
      await waitFor(() => has(seen, 'delete', 'a'), { description: 'delete of a', ...DEADLINE });
      expect(seen.some((s) => s.name.startsWith('drop-'))).toBe(false);
    } finally {
      await ns.delete();
    }
  });

  it('isolates a throwing listener from the others and from the cache', async () => {
    const ns = await createNamespace(kc, 'informer');
    try {
      const { logger, lines } = capturingLogger();
      const informer = track(configMapInformer(kc, ns.name, { logger }));
      informer.onChange(() => {
        throw new Error('listener bug');
      });
      const seen = record(informer);
      informer.start();
      await informer.whenSynced();
      await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap('a', '1', true) });
      await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap('b', '2', true) });
      await waitFor(() => has(seen, 'add', 'a') && has(seen, 'add', 'b'), {
        description: 'both adds',
        ...DEADLINE,
      });
      expect(informer.list()).toHaveLength(2);
      expect(lines.some((l) => l.msg === 'informer change listener threw')).toBe(true);
    } finally {
      await ns.delete();
    }
  });

  it('resumes after watch ends without listing again or reporting unchanged objects', async () => {
    const ns = await createNamespace(kc, 'informer');
    try {
      await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap('idle', 'v1', true) });
      const { logger, lines } = capturingLogger();
      let lists = 0;
      const informer = track(
        configMapInformer(kc, ns.name, {
          logger,
          list: (selectors) => {
            lists += 1;
            return core.listNamespacedConfigMap({ namespace: ns.name, ...selectors });
          },
          // The server ends some watches, the client's inactivity timeout others (see
          // test/integration/idle-watch-restarts.test.ts).
          watchTimeouts: { inactivityMs: 1_500, serverSeconds: { min: 1, max: 4 } },
        }),
      );
      const seen = record(informer);
      informer.start();
      await informer.whenSynced();
      expect(seen).toEqual([{ kind: 'add', name: 'idle', value: 'v1' }]);

      await waitFor(() => informer.watches >= 5, { description: 'five watches', ...DEADLINE });
      expect({ lists, seen: seen.length, restarts: informer.restarts }).toEqual({
        lists: 1,
        seen: 1,
        restarts: 0,
      });
      const ends = lines.filter((l) => l.msg === 'watch ended; resuming');
      expect(ends.length).toBeGreaterThanOrEqual(4);
      for (const line of ends)
        expect(line).toMatchObject({ level: 20, reason: expect.not.stringMatching(/^HTTP/) });

      // Still watching.
      await core.replaceNamespacedConfigMap({
        name: 'idle',
        namespace: ns.name,
        body: configMap('idle', 'v2', true),
      });
      await waitFor(() => has(seen, 'update', 'idle', 'v2'), {
        description: 'update after the ends',
        ...DEADLINE,
      });
      expect(lists).toBe(1);
    } finally {
      await ns.delete();
    }
  });

  describe('a CRD that is not installed yet', () => {
    const suffix = uniqueSuffix();
    const group = 'informer-test.btpcerts.io';
    const plural = `widgets${suffix}`;
    const crdName = `${plural}.${group}`;
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);

    afterAll(async () => {
      try {
        await extensions.deleteCustomResourceDefinition({ name: crdName });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    });

    it('keeps retrying on 404 and starts delivering once the CRD is created', async () => {
      const { logger, lines } = capturingLogger();
      const informer = track(
        new ResilientInformer<KubernetesObject>({
          kubeConfig: kc,
          path: `/apis/${group}/v1/${plural}`,
          list: async (selectors) =>
            parseList(await custom.listClusterCustomObject({ group, version: 'v1', plural, ...selectors })),
          clock: systemClock,
          backoff: FAST_BACKOFF,
          logger,
          name: plural,
        }),
      );
      const seen = record(informer);
      informer.start();

      // It fails (404), restarts, and fails again: still alive, still trying.
      await waitFor(() => informer.restarts >= 2, { description: 'two restarts on 404', ...DEADLINE });
      expect(informer.hasSynced()).toBe(false);
      expect(informer.lastError).toMatch(/^HTTP 404/);
      const restartLines = lines.filter((l) => l.msg === 'informer stopped on an error; restarting');
      expect(restartLines.length).toBeGreaterThanOrEqual(2);
      expect(restartLines[0]).toMatchObject({ informer: plural, reason: expect.stringMatching(/^HTTP 404/) });

      await extensions.createCustomResourceDefinition({ body: widgetCRD(group, plural, suffix) });
      await waitFor(
        async () => isEstablished(await extensions.readCustomResourceDefinition({ name: crdName })),
        {
          description: `CRD ${crdName} Established`,
          ...DEADLINE,
        },
      );
      await informer.whenSynced();

      const ns = await createNamespace(kc, 'informer');
      try {
        await waitFor(
          async () => {
            await custom.createNamespacedCustomObject({
              group,
              version: 'v1',
              namespace: ns.name,
              plural,
              body: {
                apiVersion: `${group}/v1`,
                kind: `Widget${suffix}`,
                metadata: { name: 'w1' },
                spec: { size: 3 },
              },
            });
            return true;
          },
          // Right after Established, the discovery of the new group can still lag briefly.
          { description: 'creating a widget', ...DEADLINE },
        );
        await waitFor(() => has(seen, 'add', 'w1'), { description: 'add of the widget', ...DEADLINE });
        expect(informer.get(ns.name, 'w1')?.metadata?.name).toBe('w1');
      } finally {
        await ns.delete();
      }
    });
  });
});

describe('ResilientInformer across a kube-apiserver restart', () => {
  let controlPlane: ControlPlane;
  let kc: KubeConfig;

  beforeAll(async () => {
    controlPlane = await ControlPlane.start({ binDir: inject('kubeBinDir'), controllerManager: false });
    kc = controlPlane.kubeConfig();
  }, 180_000);

  afterAll(async () => {
    await controlPlane?.stop();
  }, 60_000);

  it('recovers by itself and sees changes made after the restart', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await createNamespace(kc, 'informer');
    const { logger, lines } = capturingLogger();
    const informer = track(configMapInformer(kc, ns.name, { logger }));
    const seen = record(informer);
    informer.start();
    await informer.whenSynced();

    await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: configMap('before', 'secret-ish-v1', true),
    });
    await waitFor(() => has(seen, 'add', 'before'), { description: 'add before the restart', ...DEADLINE });

    await controlPlane.restartApiServer();

    // The apiserver was down for a while (the old process exits before the new one starts), so
    // the watch failed at least once and the informer restarted itself.
    await waitFor(() => informer.restarts >= 1, { description: 'an informer restart', ...DEADLINE });

    await waitFor(
      async () => {
        await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap('after', 'v1', true) });
        return true;
      },
      { description: 'creating a ConfigMap after the restart', ...DEADLINE },
    );
    await core.replaceNamespacedConfigMap({
      name: 'before',
      namespace: ns.name,
      body: configMap('before', 'v2', true),
    });
    await waitFor(() => has(seen, 'add', 'after') && has(seen, 'update', 'before', 'v2'), {
      description: 'changes made after the restart',
      ...DEADLINE,
    });
    await core.deleteNamespacedConfigMap({ name: 'after', namespace: ns.name });
    await waitFor(() => has(seen, 'delete', 'after'), {
      description: 'delete after the restart',
      ...DEADLINE,
    });
    expect(informer.list().map((c) => c.metadata?.name)).toEqual(['before']);

    // Every restart is logged with a reason, and no log line carries object contents.
    const restartLines = lines.filter((l) => l.msg === 'informer stopped on an error; restarting');
    expect(restartLines.length).toBeGreaterThanOrEqual(1);
    for (const line of restartLines) expect(line.reason).toEqual(expect.any(String));
    expect(JSON.stringify(lines)).not.toContain('secret-ish');
  });

  it('NameWatch: a version the restarted apiserver cannot resume from (410) is a gap, reported once', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await createNamespace(kc, 'name-watch');
    const { logger, lines } = capturingLogger();
    const changes: string[] = [];
    let gaps = 0;
    const watch = new NameWatch({
      kubeConfig: kc,
      path: `/api/v1/namespaces/${ns.name}/secrets`,
      currentVersion: async () =>
        (await core.listNamespacedSecret({ namespace: ns.name, limit: 1 })).metadata?.resourceVersion ?? '',
      onChange: (namespace, name) => changes.push(`${namespace}/${name}`),
      onGap: () => {
        gaps += 1;
      },
      clock: systemClock,
      logger,
      backoff: FAST_BACKOFF,
    });
    try {
      watch.start();
      // It starts from the current version, which counts as a gap too.
      await waitFor(() => watch.watches >= 1 && gaps === 1, { description: 'the first watch', ...DEADLINE });
      // A write elsewhere moves etcd's revision past the watch's version; the restarted
      // apiserver's watch cache starts after it, so the watch cannot resume from that version.
      await core.createNamespacedConfigMap({ namespace: ns.name, body: configMap('elsewhere', 'v1', false) });
      await controlPlane.restartApiServer();

      await waitFor(() => gaps === 2, { description: 'the gap after the restart', ...DEADLINE });
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 30,
          msg: 'watch resourceVersion expired; restarting from the current one',
          reason: 'resourceVersion expired (410 Gone)',
        }),
      );
      await waitFor(
        async () => {
          await core.createNamespacedSecret({
            namespace: ns.name,
            body: { metadata: { name: 'after-the-gap' }, stringData: { a: 'b' } },
          });
          return true;
        },
        { description: 'creating a Secret after the restart', ...DEADLINE },
      );
      await waitFor(() => changes.includes(`${ns.name}/after-the-gap`), {
        description: 'a change after the gap',
        ...DEADLINE,
      });
      expect(gaps).toBe(2);
    } finally {
      await watch.stop();
      await ns.delete();
    }
  });
});

function widgetCRD(group: string, plural: string, suffix: string): V1CustomResourceDefinition {
  return {
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: {
        plural,
        singular: `widget${suffix}`,
        kind: `Widget${suffix}`,
        listKind: `Widget${suffix}List`,
      },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } },
            },
          },
        },
      ],
    },
  };
}

function isEstablished(crd: V1CustomResourceDefinition): boolean {
  return (crd.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
}

/** The custom objects API returns untyped JSON; check the list shape at the boundary. */
function parseList(raw: unknown): KubernetesListObject<KubernetesObject> {
  if (typeof raw !== 'object' || raw === null || !('items' in raw) || !Array.isArray(raw.items)) {
    throw new Error('custom object list without items');
  }
  const metadata =
    'metadata' in raw && typeof raw.metadata === 'object' && raw.metadata !== null ? raw.metadata : undefined;
  const items: KubernetesObject[] = raw.items.filter(
    (i: unknown): i is KubernetesObject => typeof i === 'object' && i !== null && 'metadata' in i,
  );
  return { items, ...(metadata === undefined ? {} : { metadata }) };
}
